using System.Threading.Channels;
using System.Threading.Tasks.Dataflow;
using Akka;
using Akka.Streams.Dsl;
using BenchmarkDotNet.Attributes;
using Engine.Queues;
using Engine.Routing;
using Engine.Stages;

namespace Engine.Benchmarks;

/// <summary>
/// Keyed sharding: 1,000,000 string-keyed items over 10,000 keys into 4 shards with a trivial
/// handler and per-key order required. The engine (metrics on) against raw bounded channels with the
/// same FNV routing and one reader each (the floor), TPL Dataflow (FNV router into one bounded
/// ActionBlock per shard), and Akka.Streams (GroupBy into one substream per shard, each behind an
/// async boundary, merged back). Every contender is checked once, outside the measurement, to have
/// handled every item in per-key order. <see cref="EngineWriteMany"/> is the engine again, written
/// with one batched call instead of one call per item.
/// </summary>
[MemoryDiagnoser]
public class KeyedShardingBenchmarks
{
    private const int Keys = 10_000;
    private const int Shards = 4;
    private const int Capacity = 1024;
    private readonly string[] _keys = Enumerable.Range(0, Keys).Select(k => "entity-" + k).ToArray();
    private int[] _lastSeen = [];
    private long _outOfOrder;
    private long _handled;
    private AkkaStreamsHost? _akka;

    [Params(1_000_000)]
    public int Items { get; set; }

    [GlobalSetup(Target = nameof(Engine))]
    public void CheckEngine() => Check(nameof(Engine), Engine);

    [GlobalSetup(Target = nameof(EngineRuntimeQueue))]
    public void CheckEngineRuntimeQueue() => Check(nameof(EngineRuntimeQueue), EngineRuntimeQueue);

    [GlobalSetup(Target = nameof(EngineWriteMany))]
    public void CheckEngineWriteMany() => Check(nameof(EngineWriteMany), EngineWriteMany);

    [GlobalSetup(Target = nameof(RawChannels))]
    public void CheckRawChannels() => Check(nameof(RawChannels), RawChannels);

    [GlobalSetup(Target = nameof(TplDataflow))]
    public void CheckTplDataflow() => Check(nameof(TplDataflow), TplDataflow);

    [GlobalSetup(Target = nameof(AkkaStreams))]
    public void StartAkka()
    {
        _akka = AkkaStreamsHost.Start("keyed");
        Check(nameof(AkkaStreams), AkkaStreams);
    }

    [GlobalCleanup(Target = nameof(AkkaStreams))]
    public void StopAkka() => AkkaStreamsHost.Stop(_akka);

    [Benchmark(Baseline = true)]
    public async Task Engine()
    {
        Reset();
        Stage<int> stage = CreateStage();
        for (int i = 0; i < Items; i++)
        {
            await stage.WriteAsync(i);
        }

        stage.Complete();
        await stage.Completion;
    }

    /// <summary>
    /// The engine again, its shards queueing in the runtime's bounded channel instead of the engine's
    /// own lock-free <c>RingChannel</c> (the default since issue 24): what the ring buys.
    /// </summary>
    [Benchmark]
    public async Task EngineRuntimeQueue()
    {
        Reset();
        Stage<int> stage = CreateStage(ShardQueue.Runtime);
        for (int i = 0; i < Items; i++)
        {
            await stage.WriteAsync(i);
        }

        stage.Complete();
        await stage.Completion;
    }

    /// <summary>
    /// The engine's batched write: the same stage and items, written with one
    /// <see cref="Stage{T}.WriteManyAsync"/> call (groups of 64 items share a clock read and each
    /// shard's counts). Per-key order and every item are checked as for the others.
    /// </summary>
    [Benchmark]
    public async Task EngineWriteMany()
    {
        Reset();
        Stage<int> stage = CreateStage();
        await stage.WriteManyAsync(Enumerable.Range(0, Items));
        stage.Complete();
        await stage.Completion;
    }

    [Benchmark]
    public async Task RawChannels()
    {
        Reset();
        var channels = new Channel<int>[Shards];
        var readers = new Task[Shards];
        for (int s = 0; s < Shards; s++)
        {
            Channel<int> channel = channels[s] = Channel.CreateBounded<int>(new BoundedChannelOptions(Capacity) { SingleReader = true, SingleWriter = true });
            readers[s] = Task.Run(async () =>
            {
                while (await channel.Reader.WaitToReadAsync())
                {
                    while (channel.Reader.TryRead(out int item))
                    {
                        Handle(item);
                    }
                }
            });
        }

        for (int i = 0; i < Items; i++)
        {
            ChannelWriter<int> writer = channels[ShardOf(i)].Writer;
            if (!writer.TryWrite(i))
            {
                await writer.WriteAsync(i);
            }
        }

        foreach (Channel<int> channel in channels)
        {
            channel.Writer.Complete();
        }

        await Task.WhenAll(readers);
    }

    [Benchmark]
    public async Task TplDataflow()
    {
        Reset();
        var blocks = new ActionBlock<int>[Shards];
        for (int s = 0; s < Shards; s++)
        {
            blocks[s] = new ActionBlock<int>(Handle, new ExecutionDataflowBlockOptions { BoundedCapacity = Capacity, SingleProducerConstrained = true });
        }

        for (int i = 0; i < Items; i++)
        {
            ActionBlock<int> block = blocks[ShardOf(i)];
            if (!block.Post(i))
            {
                await block.SendAsync(i);
            }
        }

        foreach (ActionBlock<int> block in blocks)
        {
            block.Complete();
        }

        await Task.WhenAll(blocks.Select(b => b.Completion));
    }

    /// <summary>
    /// GroupBy on the same FNV shard gives one substream per shard; the handler runs inside the
    /// substream behind an async boundary (one actor per shard, so a key is handled by one actor, in
    /// order), and the substreams are merged into a sink that ignores what it gets.
    /// </summary>
    [Benchmark]
    public Task AkkaStreams()
    {
        Reset();
        return Source.From(Enumerable.Range(0, Items))
            .ViaShards(Shards, ShardOf, item =>
            {
                Handle(item);
                return NotUsed.Instance;
            })
            .RunWith(Sink.Ignore<NotUsed>(), _akka!.Materializer);
    }

    /// <summary>The engine's stage: metrics on (the default), one worker per shard, the trivial handler.</summary>
    private Stage<int> CreateStage(ShardQueue queue = ShardQueue.Ring)
    {
        string[] keys = _keys;
        return Stage.Create(
            new StageOptions<int> { Name = "keyed", Shards = Shards, Capacity = Capacity, KeySelector = i => keys[i % Keys], Queue = queue },
            (int item, CancellationToken _) => Handle(item));
    }

    private int ShardOf(int item) => (int)(Fnv1a.Hash32(_keys[item % Keys]) % Shards);

    private void Check(string contender, Func<Task> run) =>
        ContenderCheck.Run(nameof(KeyedShardingBenchmarks), contender, run, () =>
            _handled == Items && _outOfOrder == 0 ? null : $"handled {_handled} of {Items} items with {_outOfOrder} out of order");

    private void Reset()
    {
        _lastSeen = Enumerable.Repeat(-1, Keys).ToArray();
        _outOfOrder = 0;
        _handled = 0;
    }

    /// <summary>Checks per-key order (one key is only ever handled by one shard's single reader).</summary>
    private void Handle(int item)
    {
        int key = item % Keys;
        if (item < _lastSeen[key])
        {
            Interlocked.Increment(ref _outOfOrder);
        }

        _lastSeen[key] = item;
        Interlocked.Increment(ref _handled);
    }
}
