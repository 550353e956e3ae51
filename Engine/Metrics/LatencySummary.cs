using System.Diagnostics;

namespace Engine.Metrics;

/// <summary>
/// A latency distribution over an interval, in milliseconds. <see cref="Count"/>,
/// <see cref="SumMilliseconds"/>, <see cref="MeanMilliseconds"/> and <see cref="LastMilliseconds"/> are
/// exact (to the microsecond), and so are <see cref="MinMilliseconds"/> and <see cref="MaxMilliseconds"/>
/// (a stage's or a pipeline's summary takes them from its shards' and sinks'); percentiles and standard
/// deviation are read from a log-linear histogram and are exact to about 3% (clamped into [min, max]).
/// </summary>
public sealed record LatencySummary
{
    /// <summary>No samples.</summary>
    public static LatencySummary Empty { get; } = new();

    /// <summary>Samples in the interval.</summary>
    public long Count { get; init; }

    /// <summary>Sum of the samples.</summary>
    public double SumMilliseconds { get; init; }

    /// <summary>Smallest sample (0 with no samples).</summary>
    public double MinMilliseconds { get; init; }

    /// <summary>Largest sample (0 with no samples).</summary>
    public double MaxMilliseconds { get; init; }

    /// <summary>The most recent sample (0 with no samples in the interval).</summary>
    public double LastMilliseconds { get; init; }

    /// <summary>When <see cref="LastMilliseconds"/> was recorded (clock ticks), to find the newest over shards.</summary>
    internal long LastAt { get; init; }

    /// <summary>Mean sample.</summary>
    public double MeanMilliseconds { get; init; }

    /// <summary>Standard deviation of the samples.</summary>
    public double StdDevMilliseconds { get; init; }

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
    /// Summarises merged bucket counts and their exact sum, taking the exact min, max and newest last
    /// sample from the summaries they were merged from (a stage's shards, a pipeline's sinks).
    /// </summary>
    internal static LatencySummary Merge(long[] buckets, long sumMicros, IEnumerable<LatencySummary> parts)
    {
        long min = long.MaxValue;
        long max = -1;
        LatencySummary? newest = null;
        foreach (LatencySummary part in parts)
        {
            if (part.Count == 0)
            {
                continue;
            }

            // The parts' extremes are whole microseconds written as milliseconds: round back.
            min = Math.Min(min, (long)Math.Round(part.MinMilliseconds * 1000));
            max = Math.Max(max, (long)Math.Round(part.MaxMilliseconds * 1000));
            if (newest is null || part.LastAt > newest.LastAt)
            {
                newest = part;
            }
        }

        LatencySummary merged = From(buckets, sumMicros, min, max);
        return newest is null ? merged : merged with { LastMilliseconds = newest.LastMilliseconds, LastAt = newest.LastAt };
    }

    /// <summary>
    /// Every figure times 1,000 (the count stays): the summary of a histogram that holds items where it
    /// would hold microseconds (a keyed window's items per window, a batcher's items per batch), so its
    /// milliseconds read as items.
    /// </summary>
    internal LatencySummary Thousandfold()
    {
        static double X(double value) => value * 1000;
        return this with
        {
            SumMilliseconds = X(SumMilliseconds),
            MinMilliseconds = X(MinMilliseconds),
            MaxMilliseconds = X(MaxMilliseconds),
            LastMilliseconds = X(LastMilliseconds),
            MeanMilliseconds = X(MeanMilliseconds),
            StdDevMilliseconds = X(StdDevMilliseconds),
            P50 = X(P50),
            P75 = X(P75),
            P95 = X(P95),
            P98 = X(P98),
            P99 = X(P99),
            P999 = X(P999),
        };
    }

    /// <summary>Summarises one interval of a <see cref="LatencyHistogram"/>.</summary>
    internal static LatencySummary From(HistogramInterval interval)
    {
        LatencySummary summary = From(interval.Buckets, interval.Sum, interval.Min, interval.Max);
        Debug.Assert(summary.Count == interval.Count, "an interval's count is the sum of its buckets");
        return summary.Count == 0 ? summary : summary with { LastMilliseconds = interval.Last / 1000.0, LastAt = interval.LastAt };
    }

    /// <summary>
    /// Summarises bucket counts (microsecond buckets of <see cref="LatencyHistogram"/>), their exact sum
    /// and the exact smallest and largest value among them (<see cref="long.MaxValue"/> and −1 with none).
    /// </summary>
    internal static LatencySummary From(long[] buckets, long sumMicros, long minMicros, long maxMicros)
    {
        long count = 0;
        int first = -1;
        int last = -1;
        double weighted = 0;
        for (int i = 0; i < buckets.Length; i++)
        {
            long n = buckets[i];
            if (n <= 0)
            {
                continue;
            }

            count += n;
            first = first < 0 ? i : first;
            last = i;
            weighted += n * LatencyHistogram.ValueOf(i);
        }

        if (count == 0)
        {
            return Empty;
        }

        double mean = weighted / count;
        double squares = 0;
        for (int i = first; i <= last; i++)
        {
            if (buckets[i] > 0)
            {
                double d = LatencyHistogram.ValueOf(i) - mean;
                squares += buckets[i] * d * d;
            }
        }

        // The extremes are values of these very samples (a histogram's interval holds its buckets,
        // sum and extremes from one cut), so each lies in the first (last) non-empty bucket.
        Debug.Assert(minMicros >= LatencyHistogram.LowOf(first) && minMicros <= LatencyHistogram.HighOf(first), "the minimum lies in the first non-empty bucket");
        Debug.Assert(maxMicros >= LatencyHistogram.LowOf(last) && maxMicros <= LatencyHistogram.HighOf(last), "the maximum lies in the last non-empty bucket");
        double min = minMicros;
        double max = maxMicros;
        return new LatencySummary
        {
            Count = count,
            SumMilliseconds = sumMicros / 1000.0,
            MinMilliseconds = min / 1000.0,
            MaxMilliseconds = max / 1000.0,
            // Divided in microseconds first: both roundings are monotonic and the extremes are whole
            // microseconds, so min ≤ mean ≤ max holds in floating point too (0.411 / 3 would not).
            MeanMilliseconds = (double)sumMicros / count / 1000.0,
            StdDevMilliseconds = count <= 1 ? 0 : Math.Sqrt(squares / count) / 1000.0,
            P50 = Percentile(buckets, count, 0.50, min, max),
            P75 = Percentile(buckets, count, 0.75, min, max),
            P95 = Percentile(buckets, count, 0.95, min, max),
            P98 = Percentile(buckets, count, 0.98, min, max),
            P99 = Percentile(buckets, count, 0.99, min, max),
            P999 = Percentile(buckets, count, 0.999, min, max),
        };
    }

    /// <summary>The bucket midpoint at the quantile's rank, kept within [<paramref name="min"/>, <paramref name="max"/>] (microseconds), in milliseconds.</summary>
    private static double Percentile(long[] buckets, long count, double quantile, double min, double max)
    {
        long rank = Math.Max(1, (long)Math.Ceiling(quantile * count));
        long seen = 0;
        for (int i = 0; i < buckets.Length; i++)
        {
            seen += buckets[i];
            if (seen >= rank)
            {
                return Math.Clamp(LatencyHistogram.ValueOf(i), min, Math.Max(min, max)) / 1000.0;
            }
        }

        return 0;
    }
}
