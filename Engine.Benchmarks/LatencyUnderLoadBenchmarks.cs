using System.Diagnostics;
using System.Globalization;
using System.Threading.Tasks.Dataflow;
using BenchmarkDotNet.Attributes;
using Engine.Routing;
using Engine.Stages;

namespace Engine.Benchmarks;

/// <summary>
/// Latency under load: scenario 2's shape (string keys over 10,000 entities, 4 shards of capacity 1024,
/// trivial handler) fed by a paced producer at a fixed offered rate, well below what the engine can
/// take, and each item's end-to-end latency measured: from the moment it was due to be written to the
/// moment its handler ran. The engine (metrics on) against TPL Dataflow (FNV router into one bounded
/// ActionBlock per shard).
/// </summary>
/// <remarks>
/// <para>
/// The measured time of an operation is the pacing (half a second of items at <see cref="Rate"/>), as
/// expected; a mean above that says the contender could not keep up. The latencies are the result:
/// after every measured operation the p50, p99, p99.9 and maximum of its items are computed (outside
/// the measurement, in the iteration cleanup), and the global cleanup prints each operation's figures
/// and their medians, which land in BenchmarkDotNet's log.
/// </para>
/// <para>
/// Latency is taken from the item's scheduled time, not from when the producer got round to writing
/// it, so time a producer spends blocked by a full shard counts against the contender (no coordinated
/// omission). The producer spins on <see cref="Stopwatch"/> between items, so it holds one of the two
/// cores all the time.
/// </para>
/// </remarks>
[MemoryDiagnoser]
public class LatencyUnderLoadBenchmarks
{
    private const int Keys = 10_000;
    private const int Shards = 4;
    private const int Capacity = 1024;
    private readonly string[] _keys = Enumerable.Range(0, Keys).Select(k => "entity-" + k).ToArray();
    private readonly List<Percentiles> _operations = [];
    private long[] _latencies = [];
    private long[] _sorted = [];
    private long _start;
    private double _ticksPerItem;
    private long _handled;
    private bool _ran;

    /// <summary>
    /// Items offered per second: 1,000,000 is about half the engine's unpaced throughput in scenario 2
    /// as measured on the development machine (see docs/benchmarks.md); 250,000 leaves it mostly idle.
    /// </summary>
    [Params(250_000, 1_000_000)]
    public int Rate { get; set; }

    /// <summary>Items per operation: half a second's worth at <see cref="Rate"/>.</summary>
    public int Items => Rate / 2;

    [GlobalSetup(Target = nameof(Engine))]
    public void CheckEngine() => Check(nameof(Engine), Engine);

    [GlobalSetup(Target = nameof(TplDataflow))]
    public void CheckTplDataflow() => Check(nameof(TplDataflow), TplDataflow);

    [IterationCleanup]
    public void Summarise()
    {
        // Only after an operation that ran (BenchmarkDotNet may call cleanups around empty overhead runs).
        if (_ran)
        {
            _ran = false;
            _operations.Add(Summary());
        }
    }

    [GlobalCleanup]
    public void Report()
    {
        if (_operations.Count == 0)
        {
            return;
        }

        foreach (Percentiles p in _operations)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"// latency op: {p}"));
        }

        Percentiles median = new(
            Median(_operations.Select(p => p.P50)),
            Median(_operations.Select(p => p.P99)),
            Median(_operations.Select(p => p.P999)),
            Median(_operations.Select(p => p.Max)));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"// latency median of {_operations.Count} operations at {Rate:N0}/s: {median}"));
    }

    [Benchmark(Baseline = true)]
    public async Task Engine()
    {
        Start();
        string[] keys = _keys;
        var stage = Stage.Create(
            new StageOptions<int> { Name = "paced", Shards = Shards, Capacity = Capacity, KeySelector = i => keys[i % Keys] },
            (int item, CancellationToken _) => Handle(item));
        for (int i = 0; i < Items; i++)
        {
            WaitUntilDue(i);
            await stage.WriteAsync(i);
        }

        stage.Complete();
        await stage.Completion;
    }

    [Benchmark]
    public async Task TplDataflow()
    {
        Start();
        var blocks = new ActionBlock<int>[Shards];
        for (int s = 0; s < Shards; s++)
        {
            blocks[s] = new ActionBlock<int>(Handle, new ExecutionDataflowBlockOptions { BoundedCapacity = Capacity, SingleProducerConstrained = true });
        }

        for (int i = 0; i < Items; i++)
        {
            WaitUntilDue(i);
            ActionBlock<int> block = blocks[(int)(Fnv1a.Hash32(_keys[i % Keys]) % Shards)];
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

    private static double Median(IEnumerable<double> values)
    {
        double[] sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private void Start()
    {
        if (_latencies.Length != Items)
        {
            _latencies = new long[Items];
            _sorted = new long[Items];
        }

        Array.Fill(_latencies, -1);
        _handled = 0;
        _ticksPerItem = (double)Stopwatch.Frequency / Rate;
        _ran = true;
        _start = Stopwatch.GetTimestamp();
    }

    private long Due(int item) => _start + (long)(item * _ticksPerItem);

    private void WaitUntilDue(int item)
    {
        long due = Due(item);
        while (Stopwatch.GetTimestamp() < due)
        {
        }
    }

    private void Handle(int item)
    {
        _latencies[item] = Stopwatch.GetTimestamp() - Due(item);
        Interlocked.Increment(ref _handled);
    }

    private Percentiles Summary()
    {
        _latencies.CopyTo(_sorted, 0);
        Array.Sort(_sorted);
        double micros = 1_000_000.0 / Stopwatch.Frequency;
        double At(double q) => _sorted[(int)Math.Ceiling(q * _sorted.Length) - 1] * micros;
        return new Percentiles(At(0.50), At(0.99), At(0.999), _sorted[^1] * micros);
    }

    private void Check(string contender, Func<Task> run)
    {
        ContenderCheck.Run(nameof(LatencyUnderLoadBenchmarks), contender, run, () =>
            _handled == Items && Array.IndexOf(_latencies, -1L) < 0 ? null : $"handled {_handled} of {Items}");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"// latency of the check run (includes JIT): {Summary()}"));
        _ran = false;
    }

    /// <summary>One operation's end-to-end latencies, in microseconds.</summary>
    private readonly record struct Percentiles(double P50, double P99, double P999, double Max)
    {
        public override string ToString() =>
            string.Create(CultureInfo.InvariantCulture, $"p50 {P50:F1} µs, p99 {P99:F1} µs, p99.9 {P999:F1} µs, max {Max:F1} µs");
    }
}
