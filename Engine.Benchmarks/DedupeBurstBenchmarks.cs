using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using Engine.Dedupe;
using Engine.Stages;

namespace Engine.Benchmarks;

/// <summary>
/// A hot-key burst: a million updates over ten thousand keys (the same random sequence every run)
/// through a 4-shard stage whose handler costs about 20 µs of CPU, where only each key's newest state
/// matters. Measures the time to write the burst and drain the stage with replace-pending dedupe off
/// (every update runs) and on (waiting updates of a key collapse into the newest).
/// </summary>
/// <remarks>
/// Checked once outside the measurement: without dedupe every update ran; with it, every key's newest
/// version ran, and processed + superseded accounts for every update.
/// </remarks>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 1, iterationCount: 3)]
public class DedupeBurstBenchmarks
{
    private const int Keys = 10_000;
    private static readonly long HandlerTicks = Stopwatch.Frequency * 20 / 1_000_000;

    private (int Key, int Version)[] _updates = [];
    private int[] _newest = [];
    private int[] _processedNewest = [];

    [Params(1_000_000)]
    public int Updates { get; set; }

    [Params(false, true)]
    public bool Dedupe { get; set; }

    /// <summary>Per-shard capacity: 1024 (the default; a shard's 2,500 keys do not all fit) and 4096 (they do).</summary>
    [Params(1024, 4096)]
    public int Capacity { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(7);
        var versions = new int[Keys];
        _updates = new (int, int)[Updates];
        for (int i = 0; i < Updates; i++)
        {
            int key = random.Next(Keys);
            _updates[i] = (key, ++versions[key]);
        }

        _newest = versions;
        StageCounts counts = Run();
        bool allNewest = _processedNewest.AsSpan().SequenceEqual(_newest);
        if (!allNewest || counts.Processed + counts.Superseded != Updates || (!Dedupe && counts.Processed != Updates))
        {
            throw new InvalidOperationException($"The stage skipped work: {counts}, every key's newest version ran: {allNewest}.");
        }

        Console.WriteLine($"// dedupe={Dedupe} capacity={Capacity}: processed {counts.Processed:N0}, superseded {counts.Superseded:N0} of {Updates:N0}");
    }

    [Benchmark]
    public StageCounts Drain() => Run();

    private StageCounts Run()
    {
        _processedNewest = new int[Keys];
        int[] processedNewest = _processedNewest;
        var stage = Stage.Create(
            new StageOptions<(int Key, int Version)>
            {
                Name = "burst",
                Shards = 4,
                Capacity = Capacity,
                KeySelector = u => u.Key,
                Dedupe = Dedupe ? new DedupeOptions<(int Key, int Version)> { Mode = DedupeMode.Replace } : null,
            },
            ((int Key, int Version) u, CancellationToken _) =>
            {
                long until = Stopwatch.GetTimestamp() + HandlerTicks;
                while (Stopwatch.GetTimestamp() < until)
                {
                }

                // One key is never in two handlers at once, so this needs no synchronisation.
                processedNewest[u.Key] = Math.Max(processedNewest[u.Key], u.Version);
            });

        foreach ((int Key, int Version) update in _updates)
        {
            stage.WriteAsync(update).AsTask().GetAwaiter().GetResult();
        }

        stage.Complete();
        stage.Completion.GetAwaiter().GetResult();
        return stage.GetCounts();
    }
}
