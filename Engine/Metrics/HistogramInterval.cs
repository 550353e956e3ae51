using System.Diagnostics;

namespace Engine.Metrics;

/// <summary>
/// The values one reader's interval of a <see cref="LatencyHistogram"/> holds: bucket counts, count,
/// sum, extremes and the last value, all of the same samples (microseconds; clock ticks for
/// <see cref="LastAt"/>). Owned by whoever holds it; not thread-safe.
/// </summary>
[DebuggerDisplay("Count = {Count}, Sum = {Sum}, Min = {Min}, Max = {Max}")]
internal sealed class HistogramInterval
{
    /// <summary>Counts per bucket of <see cref="LatencyHistogram"/>.</summary>
    public long[] Buckets { get; } = new long[LatencyHistogram.BucketCount];

    /// <summary>Values in the interval; the sum of <see cref="Buckets"/>.</summary>
    public long Count;

    /// <summary>Sum of the values.</summary>
    public long Sum;

    /// <summary>Smallest value (<see cref="long.MaxValue"/> with none).</summary>
    public long Min = long.MaxValue;

    /// <summary>Largest value (−1 with none).</summary>
    public long Max = -1;

    /// <summary>The most recent value (0 with none), and when it was recorded.</summary>
    public long Last;
    public long LastAt;

    /// <summary>Empties the interval.</summary>
    public void Clear()
    {
        if (Count != 0)
        {
            Array.Clear(Buckets);
        }

        Count = 0;
        Sum = 0;
        Min = long.MaxValue;
        Max = -1;
        Last = 0;
        LastAt = 0;
    }

    /// <summary>Adds <paramref name="later"/>, an interval that follows this one (its last value is the newer).</summary>
    public void Add(HistogramInterval later)
    {
        if (later.Count == 0)
        {
            return;
        }

        long[] buckets = later.Buckets;
        for (int i = 0; i < buckets.Length; i++)
        {
            Buckets[i] += buckets[i];
        }

        AddFigures(later.Count, later.Sum, later.Min, later.Max, later.Last, later.LastAt);
    }

    /// <summary>Adds the figures of a later interval of <paramref name="count"/> values (its buckets are the caller's to add).</summary>
    public void AddFigures(long count, long sum, long min, long max, long last, long lastAt)
    {
        Count += count;
        Sum += sum;
        Min = Math.Min(Min, min);
        Max = Math.Max(Max, max);
        Last = last;
        LastAt = lastAt;
    }
}
