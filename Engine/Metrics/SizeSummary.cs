using System.Diagnostics;

namespace Engine.Metrics;

/// <summary>
/// A distribution of sizes over an interval: how many items each emitted batch held.
/// <see cref="Count"/>, <see cref="Sum"/>, <see cref="Min"/>, <see cref="Max"/>, <see cref="Mean"/> and
/// <see cref="Last"/> are exact; percentiles and standard deviation are read from the same log-linear
/// histogram as latencies, exact below 32 and to about 3% above (clamped into [min, max]).
/// </summary>
public sealed record SizeSummary
{
    /// <summary>No samples.</summary>
    public static SizeSummary Empty { get; } = new();

    /// <summary>Samples (batches) in the interval.</summary>
    public long Count { get; init; }

    /// <summary>Sum of the samples (items in those batches).</summary>
    public long Sum { get; init; }

    /// <summary>Smallest sample (0 with no samples).</summary>
    public long Min { get; init; }

    /// <summary>Largest sample (0 with no samples).</summary>
    public long Max { get; init; }

    /// <summary>The most recent sample (0 with no samples in the interval).</summary>
    public long Last { get; init; }

    /// <summary>Mean sample.</summary>
    public double Mean { get; init; }

    /// <summary>Standard deviation of the samples.</summary>
    public double StdDev { get; init; }

    /// <summary>Median.</summary>
    public double P50 { get; init; }

    /// <summary>75th percentile.</summary>
    public double P75 { get; init; }

    /// <summary>95th percentile.</summary>
    public double P95 { get; init; }

    /// <summary>98th percentile.</summary>
    public double P98 { get; init; }

    /// <summary>99th percentile.</summary>
    public double P99 { get; init; }

    /// <summary>99.9th percentile.</summary>
    public double P999 { get; init; }

    /// <summary>
    /// Summarises one interval of a <see cref="LatencyHistogram"/> that records sizes rather than
    /// microseconds: the latency summary's arithmetic is the same, only its scaling to milliseconds is undone.
    /// </summary>
    internal static SizeSummary From(HistogramInterval interval)
    {
        if (interval.Count == 0)
        {
            return Empty;
        }

        LatencySummary scaled = LatencySummary.From(interval);
        Debug.Assert(scaled.Count == interval.Count, "an interval's count is the sum of its buckets");
        return new SizeSummary
        {
            Count = interval.Count,
            Sum = interval.Sum,
            Min = interval.Min,
            Max = interval.Max,
            Last = interval.Last,
            Mean = (double)interval.Sum / interval.Count,
            StdDev = Unscale(scaled.StdDevMilliseconds),
            P50 = Unscale(scaled.P50),
            P75 = Unscale(scaled.P75),
            P95 = Unscale(scaled.P95),
            P98 = Unscale(scaled.P98),
            P99 = Unscale(scaled.P99),
            P999 = Unscale(scaled.P999),
        };
    }

    /// <summary>A value the latency summary divided by 1000 (microseconds to milliseconds), back in the recorded unit.</summary>
    private static double Unscale(double milliseconds) => Math.Round(milliseconds * 1000, 6);
}
