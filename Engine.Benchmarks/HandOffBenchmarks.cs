using System.Threading.Channels;
using System.Threading.Tasks.Dataflow;
using BenchmarkDotNet.Attributes;
using Engine.Stages;

namespace Engine.Benchmarks;

/// <summary>
/// Hand-off: N items through one stage with one shard and a trivial handler, against one bounded
/// ActionBlock and the floor — a raw
/// bounded channel drained by one reader with a TryRead loop. Both do the same work per item (add it
/// to a sum) and are checked once, outside the measurement, to have handled every item.
/// </summary>
[MemoryDiagnoser]
public class HandOffBenchmarks
{
    private long _sum;

    [Params(1_000_000)]
    public int Items { get; set; }

    [GlobalSetup]
    public void CheckContenders()
    {
        long expected = (long)Items * (Items - 1) / 2;
        foreach ((string name, Func<Task> run) in new (string, Func<Task>)[] { ("RawChannel", RawChannel), ("EngineStage", EngineStage), ("ActionBlock", ActionBlock) })
        {
            _sum = 0;
            run().GetAwaiter().GetResult();
            if (_sum != expected)
            {
                throw new InvalidOperationException($"{name} handled a sum of {_sum}, expected {expected}: it skipped work.");
            }
        }
    }

    [Benchmark(Baseline = true)]
    public async Task RawChannel()
    {
        var channel = Channel.CreateBounded<int>(new BoundedChannelOptions(1024) { SingleReader = true, SingleWriter = true });
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
        var block = new ActionBlock<int>(item => _sum += item, new ExecutionDataflowBlockOptions { BoundedCapacity = 1024, SingleProducerConstrained = true });
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

    [Benchmark]
    public async Task EngineStage()
    {
        var stage = Stage.Create(
            new StageOptions<int> { Name = "handoff", Shards = 1, Capacity = 1024, KeySelector = _ => "k" },
            (int item, CancellationToken _) => _sum += item);
        for (int i = 0; i < Items; i++)
        {
            await stage.WriteAsync(i);
        }

        stage.Complete();
        await stage.Completion;
    }
}
