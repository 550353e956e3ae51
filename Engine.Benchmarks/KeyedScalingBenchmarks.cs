using System.Threading.Tasks.Dataflow;
using BenchmarkDotNet.Attributes;
using Engine.Routing;
using Engine.Stages;

namespace Engine.Benchmarks;

/// <summary>
/// How the keyed scenario scales: 1,000,000 string-keyed items over 10,000 keys with a trivial handler,
/// written by 1, 2 or 4 writers into 4, 16 or 64 shards, the engine (metrics on) against TPL Dataflow
/// (FNV router into one bounded <see cref="ActionBlock{TInput}"/> per shard). Each writer owns the keys
/// whose number modulo the writer count is its own, so per-key order is defined and checked once per
/// contender and shape, outside the measurement.
/// </summary>
[MemoryDiagnoser]
public class KeyedScalingBenchmarks
{
    private const int Keys = 10_000;
    private const int Capacity = 1024;
    private const int Items = 1_000_000;
    private readonly string[] _keys = Enumerable.Range(0, Keys).Select(k => "entity-" + k).ToArray();
    private readonly PerKeyOrder _order = new(Keys);
    private long _handled;

    [Params(1, 2, 4)]
    public int Writers { get; set; }

    [Params(4, 16, 64)]
    public int Shards { get; set; }

    [GlobalSetup(Target = nameof(Engine))]
    public void CheckEngine() => Check(nameof(Engine), Engine);

    [GlobalSetup(Target = nameof(TplDataflow))]
    public void CheckTplDataflow() => Check(nameof(TplDataflow), TplDataflow);

    [Benchmark(Baseline = true)]
    public async Task Engine()
    {
        Reset();
        string[] keys = _keys;
        var stage = Stage.Create(
            new StageOptions<int> { Name = "scaling", Shards = Shards, Capacity = Capacity, KeySelector = i => keys[i % Keys] },
            (int item, CancellationToken _) => Handle(item));
        await Write(async item => await stage.WriteAsync(item));
        stage.Complete();
        await stage.Completion;
        await stage.DisposeAsync();
    }

    [Benchmark]
    public async Task TplDataflow()
    {
        Reset();
        var blocks = new ActionBlock<int>[Shards];
        for (int s = 0; s < Shards; s++)
        {
            blocks[s] = new ActionBlock<int>(Handle, new ExecutionDataflowBlockOptions { BoundedCapacity = Capacity, SingleProducerConstrained = Writers == 1 });
        }

        await Write(async item =>
        {
            ActionBlock<int> block = blocks[(int)(Fnv1a.Hash32(_keys[item % Keys]) % (uint)Shards)];
            if (!block.Post(item))
            {
                await block.SendAsync(item);
            }
        });
        foreach (ActionBlock<int> block in blocks)
        {
            block.Complete();
        }

        await Task.WhenAll(blocks.Select(b => b.Completion));
    }

    /// <summary>Runs the writers; writer w writes, in increasing order, the items whose key modulo the writer count is w.</summary>
    private Task Write(Func<int, Task> write)
    {
        int writers = Writers;
        if (writers == 1)
        {
            return WriteAll(0);
        }

        return Task.WhenAll(Enumerable.Range(0, writers).Select(w => Task.Run(() => WriteAll(w))));

        async Task WriteAll(int writer)
        {
            for (int i = 0; i < Items; i++)
            {
                if ((i % Keys) % writers == writer)
                {
                    await write(i);
                }
            }
        }
    }

    private void Check(string contender, Func<Task> run) =>
        ContenderCheck.Run(nameof(KeyedScalingBenchmarks), $"{contender}(writers={Writers}, shards={Shards})", run, () =>
            _handled == Items && _order.OutOfOrder == 0 ? null : $"handled {_handled} of {Items} items with {_order.OutOfOrder} out of order");

    private void Reset()
    {
        _order.Reset();
        _handled = 0;
    }

    /// <summary>Checks per-key order (a key is written by one writer, in order, and handled by one shard at a time).</summary>
    private void Handle(int item)
    {
        _order.See(item % Keys, item);
        Interlocked.Increment(ref _handled);
    }
}
