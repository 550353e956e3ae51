using BenchmarkDotNet.Attributes;
using Engine.Metrics;

namespace Engine.Benchmarks;

/// <summary>
/// One histogram record on its own, with one writer (plain writes) and with several (a compare-and-swap),
/// over a spread of latencies (0.01 ms to about 10 ms): the recording path the exact min and max
/// were added to.
/// </summary>
[MemoryDiagnoser]
public class LatencyHistogramBenchmarks
{
    private const int Operations = 1024;
    private readonly long[] _values = new long[Operations];
    private LatencyHistogram _histogram = null!;

    [Params(true, false)]
    public bool SingleWriter { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _histogram = new LatencyHistogram(SingleWriter);
        var random = new Random(42);
        for (int i = 0; i < _values.Length; i++)
        {
            _values[i] = (long)Math.Exp(random.NextDouble() * Math.Log(10_000)) + 10;
        }
    }

    /// <summary>Per value recorded.</summary>
    [Benchmark(OperationsPerInvoke = Operations)]
    public long Record()
    {
        long[] values = _values;
        for (int i = 0; i < values.Length; i++)
        {
            _histogram.Record(values[i]);
        }

        return _histogram.Last;
    }
}
