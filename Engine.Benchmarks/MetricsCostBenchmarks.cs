using BenchmarkDotNet.Attributes;
using Engine.Stages;

namespace Engine.Benchmarks;

/// <summary>
/// The cost of the built-in metrics: 1,000,000 string-keyed items over 10,000 keys through a 4-shard
/// stage, with metrics off and on, with a trivial handler and with one doing a little CPU work
/// (<see cref="HandlerWork"/> rounds of xorshift, about a microsecond at 200). Checked once outside
/// the measurement to have processed every item.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 10)]
public class MetricsCostBenchmarks
{
    private const int Keys = 10_000;
    private readonly string[] _keys = Enumerable.Range(0, Keys).Select(k => "entity-" + k).ToArray();
    private long _sum;

    [Params(1_000_000)]
    public int Items { get; set; }

    [Params(false, true)]
    public bool Metrics { get; set; }

    [Params(0, 200)]
    public int HandlerWork { get; set; }

    [GlobalSetup]
    public void Check()
    {
        StageCounts counts = Run().GetAwaiter().GetResult();
        if (counts.Processed != Items || _sum != (long)Items * (Items - 1) / 2)
        {
            throw new InvalidOperationException($"The stage skipped work: {counts}.");
        }
    }

    [Benchmark]
    public Task<StageCounts> KeyedStage() => Run();

    private async Task<StageCounts> Run()
    {
        _sum = 0;
        string[] keys = _keys;
        int work = HandlerWork;
        var stage = Stage.Create(
            new StageOptions<int> { Name = "keyed", Shards = 4, Capacity = 1024, KeySelector = i => keys[i % Keys], Metrics = Metrics },
            (int item, CancellationToken _) =>
            {
                uint x = (uint)item | 1;
                for (int r = 0; r < work; r++)
                {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                }

                Interlocked.Add(ref _sum, item + (x == 0 ? 1 : 0));
            });
        for (int i = 0; i < Items; i++)
        {
            await stage.WriteAsync(i);
        }

        stage.Complete();
        await stage.Completion;
        return stage.GetCounts();
    }
}
