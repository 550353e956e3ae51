using System.Threading.Channels;
using System.Threading.Tasks.Dataflow;
using Akka.Streams.Dsl;
using BenchmarkDotNet.Attributes;
using Engine.Queues;
using Engine.Stages;

namespace Engine.Benchmarks;

/// <summary>
/// Hand-off: N items through one stage with one shard and a trivial handler (add the item to a sum),
/// against the floor (a raw bounded channel drained by one reader with a TryRead loop), one bounded
/// ActionBlock, and Akka.Streams (an enumerable source, an async boundary, a foreach sink); and the
/// engine again, written with one batched <c>WriteManyAsync</c> call. Every contender is checked once,
/// outside the measurement, to have handled every item.
/// </summary>
/// <remarks>
/// Each contender's check runs in the global setup of the process that measures it, so a benchmark
/// process starts only what it measures (the actor system exists only in the Akka.Streams process).
/// </remarks>
[MemoryDiagnoser]
public class HandOffBenchmarks
{
    private const int Capacity = 1024;
    private long _sum;
    private AkkaStreamsHost? _akka;

    [Params(1_000_000)]
    public int Items { get; set; }

    [GlobalSetup(Target = nameof(EngineStage))]
    public void CheckEngineStage() => Check(nameof(EngineStage), EngineStage);

    [GlobalSetup(Target = nameof(EngineRuntimeQueue))]
    public void CheckEngineRuntimeQueue() => Check(nameof(EngineRuntimeQueue), EngineRuntimeQueue);

    [GlobalSetup(Target = nameof(EngineWriteMany))]
    public void CheckEngineWriteMany() => Check(nameof(EngineWriteMany), EngineWriteMany);

    [GlobalSetup(Target = nameof(RawChannel))]
    public void CheckRawChannel() => Check(nameof(RawChannel), RawChannel);

    [GlobalSetup(Target = nameof(ActionBlock))]
    public void CheckActionBlock() => Check(nameof(ActionBlock), ActionBlock);

    [GlobalSetup(Target = nameof(AkkaStreams))]
    public void StartAkka()
    {
        _akka = AkkaStreamsHost.Start("handoff");
        Check(nameof(AkkaStreams), AkkaStreams);
    }

    [GlobalCleanup(Target = nameof(AkkaStreams))]
    public void StopAkka() => AkkaStreamsHost.Stop(_akka);

    [Benchmark(Baseline = true)]
    public async Task EngineStage()
    {
        Stage<int> stage = CreateStage();
        for (int i = 0; i < Items; i++)
        {
            await stage.WriteAsync(i);
        }

        stage.Complete();
        await stage.Completion;
    }

    /// <summary>The same stage queueing in the runtime's bounded channel instead of the engine's own <c>RingChannel</c> (the default since issue 24): what the ring buys.</summary>
    [Benchmark]
    public async Task EngineRuntimeQueue()
    {
        Stage<int> stage = CreateStage(ShardQueue.Runtime);
        for (int i = 0; i < Items; i++)
        {
            await stage.WriteAsync(i);
        }

        stage.Complete();
        await stage.Completion;
    }

    /// <summary>The same stage and items, written with one batched <see cref="Stage{T}.WriteManyAsync"/> call.</summary>
    [Benchmark]
    public async Task EngineWriteMany()
    {
        Stage<int> stage = CreateStage();
        await stage.WriteManyAsync(Enumerable.Range(0, Items));
        stage.Complete();
        await stage.Completion;
    }

    [Benchmark]
    public async Task RawChannel()
    {
        var channel = Channel.CreateBounded<int>(new BoundedChannelOptions(Capacity) { SingleReader = true, SingleWriter = true });
        Task reader = Task.Run(async () =>
        {
            while (await channel.Reader.WaitToReadAsync())
            {
                while (channel.Reader.TryRead(out int item))
                {
                    _sum += item;
                }
            }
        });

        for (int i = 0; i < Items; i++)
        {
            if (!channel.Writer.TryWrite(i))
            {
                await channel.Writer.WriteAsync(i);
            }
        }

        channel.Writer.Complete();
        await reader;
    }

    [Benchmark]
    public async Task ActionBlock()
    {
        var block = new ActionBlock<int>(item => _sum += item, new ExecutionDataflowBlockOptions { BoundedCapacity = Capacity, SingleProducerConstrained = true });
        for (int i = 0; i < Items; i++)
        {
            if (!block.Post(i))
            {
                await block.SendAsync(i);
            }
        }

        block.Complete();
        await block.Completion;
    }

    /// <summary>
    /// The source (the producer) and the sink (the consumer) run in separate actors: the async boundary
    /// is the hand-off, with Akka's default input buffer and demand signalling as the bound.
    /// </summary>
    [Benchmark]
    public Task AkkaStreams() =>
        Source.From(Enumerable.Range(0, Items))
            .Async()
            .RunForeach(item => _sum += item, _akka!.Materializer);

    /// <summary>The engine's stage: one shard, one key, metrics on (the default), the trivial handler.</summary>
    private Stage<int> CreateStage(ShardQueue queue = ShardQueue.Ring) =>
        Stage.Create(
            new StageOptions<int> { Name = "handoff", Shards = 1, Capacity = Capacity, KeySelector = _ => "k", Queue = queue },
            (int item, CancellationToken _) => _sum += item);

    private void Check(string contender, Func<Task> run)
    {
        long expected = (long)Items * (Items - 1) / 2;
        _sum = 0;
        ContenderCheck.Run(nameof(HandOffBenchmarks), contender, run, () => _sum == expected ? null : $"handled a sum of {_sum}, expected {expected}");
    }
}
