using BenchmarkDotNet.Attributes;
using Engine.Stages;

namespace Engine.Benchmarks;

/// <summary>
/// The cost of the built-in metrics: 1,000,000 string-keyed items over 10,000 keys through a 4-shard
/// stage, with metrics off and on, with a trivial handler and with one doing a little CPU work
/// (<see cref="HandlerWork"/> rounds of xorshift, about a microsecond at 200). Each variant is
/// checked once outside the measurement to have processed every item. The stage is scenario 2's
/// (<see cref="KeyedShardingBenchmarks"/>) with a different handler body.
/// </summary>
/// <remarks>
/// The counts are attributes that change every job (<c>--job short</c> too) rather than a job of their
/// own, which BenchmarkDotNet would run in addition to one given on the command line.
/// </remarks>
[MemoryDiagnoser]
[WarmupCount(3)]
[IterationCount(10)]
public class MetricsCostBenchmarks
{
    private const int Keys = 10_000;
    private readonly string[] _keys = Enumerable.Range(0, Keys).Select(k => "entity-" + k).ToArray();
    private long _sum;

    /// <summary>The library's default <see cref="StageOptions{T}.LatencySampling"/>.</summary>
    private static readonly int DefaultSampling = new StageOptions<int>().LatencySampling;

    [Params(1_000_000)]
    public int Items { get; set; }

    [Params(0, 200)]
    public int HandlerWork { get; set; }

    [GlobalSetup(Target = nameof(MetricsOff))]
    public void CheckMetricsOff() => Check(nameof(MetricsOff), metrics: false);

    [GlobalSetup(Target = nameof(MetricsOn))]
    public void CheckMetricsOn() => Check(nameof(MetricsOn), metrics: true);

    [GlobalSetup(Target = nameof(MetricsOnEveryItemTimed))]
    public void CheckMetricsOnEveryItemTimed() => Check(nameof(MetricsOnEveryItemTimed), metrics: true, sampling: 1);

    [Benchmark(Baseline = true)]
    public Task<StageCounts> MetricsOff() => Run(metrics: false);

    /// <summary>Metrics on with the default <see cref="StageOptions{T}.LatencySampling"/> (one write in 16 timed for the queue wait).</summary>
    [Benchmark]
    public Task<StageCounts> MetricsOn() => Run(metrics: true);

    /// <summary>Metrics on with every write timed (<see cref="StageOptions{T}.LatencySampling"/> = 1), as before issue 24.</summary>
    [Benchmark]
    public Task<StageCounts> MetricsOnEveryItemTimed() => Run(metrics: true, sampling: 1);

    private void Check(string variant, bool metrics, int? sampling = null)
    {
        StageCounts counts = default;
        long expected = (long)Items * (Items - 1) / 2;
        ContenderCheck.Run(nameof(MetricsCostBenchmarks), variant, async () => counts = await Run(metrics, sampling), () =>
            counts.Processed == Items && _sum == expected ? null : $"processed {counts.Processed} of {Items}, sum {_sum} instead of {expected}");
    }

    private async Task<StageCounts> Run(bool metrics, int? sampling = null)
    {
        _sum = 0;
        string[] keys = _keys;
        int work = HandlerWork;
        var stage = Stage.Create(
            new StageOptions<int> { Name = "keyed", Shards = 4, Capacity = 1024, KeySelector = i => keys[i % Keys], Metrics = metrics, LatencySampling = sampling ?? DefaultSampling },
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

