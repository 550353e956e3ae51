namespace Engine.Metrics;

/// <summary>
/// A latency distribution over an interval, in milliseconds. Percentiles, min, max and standard
/// deviation are read from a log-linear histogram and are exact to about 3%; <see cref="Count"/> and
/// <see cref="SumMilliseconds"/> are exact.
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

    /// <summary>Summarises bucket counts (microsecond buckets of <see cref="LatencyHistogram"/>) and an exact sum.</summary>
    internal static LatencySummary From(long[] buckets, long sumMicros)
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

        return new LatencySummary
        {
            Count = count,
            SumMilliseconds = sumMicros / 1000.0,
            MinMilliseconds = LatencyHistogram.ValueOf(first) / 1000.0,
            MaxMilliseconds = LatencyHistogram.ValueOf(last) / 1000.0,
            MeanMilliseconds = sumMicros / 1000.0 / count,
            StdDevMilliseconds = Math.Sqrt(squares / count) / 1000.0,
            P50 = Percentile(buckets, count, 0.50),
            P75 = Percentile(buckets, count, 0.75),
            P95 = Percentile(buckets, count, 0.95),
            P98 = Percentile(buckets, count, 0.98),
            P99 = Percentile(buckets, count, 0.99),
            P999 = Percentile(buckets, count, 0.999),
        };
    }

    private static double Percentile(long[] buckets, long count, double quantile)
    {
        long rank = Math.Max(1, (long)Math.Ceiling(quantile * count));
        long seen = 0;
        for (int i = 0; i < buckets.Length; i++)
        {
            seen += buckets[i];
            if (seen >= rank)
            {
                return LatencyHistogram.ValueOf(i) / 1000.0;
            }
        }

        return 0;
    }
}
