using System.Diagnostics;

namespace Engine.Metrics;

/// <summary>
/// A log-linear latency histogram in microseconds: values below 32 µs have a bucket each; above, every
/// power of two is split into 32 buckets, so any value is known within about 3%. Counts only grow;
/// an interval is the difference of two reads, so a snapshot never stops or resets recording and a
/// sample is never lost (one recorded while a snapshot reads may land in the next interval).
/// </summary>
/// <remarks>
/// The library keeps no dependency beyond the BCL, so this replaces HdrHistogram: recording is one
/// array increment (plain with a single writer, interlocked otherwise), an add to the sum and a
/// compare against the smallest and largest value since the last read of them, with no lock and no
/// allocation. The exact extremes exist because a bucket only knows a value to within 3%, and a
/// minimum rounded to its bucket can exceed the exact mean; they are taken per reader (see
/// <see cref="TakeExtremes"/>).
/// </remarks>
internal sealed class LatencyHistogram
{
    public const int SubBits = 5;
    public const int SubBuckets = 1 << SubBits;
    public const int Magnitudes = 36;
    public const int BucketCount = SubBuckets + (Magnitudes * SubBuckets);

    private readonly long[] _counts = new long[BucketCount];
    private readonly bool _singleWriter;
    private long _sum;
    private long _last;
    private long _lastAt;

    /// <summary>Smallest value recorded since the last <see cref="TakeExtremes"/> by any reader (<see cref="long.MaxValue"/>: none). Written by recorders, reset by readers.</summary>
    private long _min = long.MaxValue;

    /// <summary>Largest value recorded since the last <see cref="TakeExtremes"/> by any reader (−1: none). Written by recorders, reset by readers.</summary>
    private long _max = -1;

    /// <summary>Guards <see cref="_readers"/>, <see cref="_everMin"/> and <see cref="_everMax"/>; taken by readers only, never when recording.</summary>
    private readonly Lock _readGate = new();

    /// <summary>Every reader's cursor, held weakly: a closed cursor is not announced, it just stops being referenced.</summary>
    private readonly List<WeakReference<HistogramCursor>> _readers = [];

    /// <summary>Extremes over every value ever recorded, as of the last read: a new reader's first interval starts at the first value.</summary>
    private long _everMin = long.MaxValue;
    private long _everMax = -1;

    public LatencyHistogram(bool singleWriter) => _singleWriter = singleWriter;

    /// <summary>The most recently recorded value, in microseconds.</summary>
    public long Last => Volatile.Read(ref _last);

    /// <summary>When <see cref="Last"/> was recorded (clock ticks, as given to <see cref="Record(long, long)"/>).</summary>
    public long LastAt => Volatile.Read(ref _lastAt);

    /// <summary>Records a duration in microseconds that ended at <paramref name="at"/> (clock ticks).</summary>
    public void Record(long micros, long at)
    {
        Volatile.Write(ref _lastAt, at);
        Record(micros);
    }

    /// <summary>Records a duration in microseconds (negative values count as 0; huge ones go to the last bucket).</summary>
    public void Record(long micros)
    {
        long value = Math.Max(0, micros);
        int bucket = BucketOf(value);
        Volatile.Write(ref _last, value);

        // The extremes are written before the count, and a reader reads the counts before the
        // extremes: a value counted in a reader's interval is then always in that reader's extremes
        // or an earlier one's (see LatencySummary.From for what is done with the rare earlier case).
        if (_singleWriter)
        {
            if (value < _min)
            {
                _min = value;
            }

            if (value > _max)
            {
                _max = value;
            }

            // Release: the extremes above are visible before the count is.
            Volatile.Write(ref _counts[bucket], _counts[bucket] + 1);
            _sum += value;
        }
        else
        {
            LowerTo(ref _min, value);
            RaiseTo(ref _max, value);
            Interlocked.Increment(ref _counts[bucket]);
            Interlocked.Add(ref _sum, value);
        }
    }

    /// <summary>Copies the cumulative counts into <paramref name="into"/> and returns the cumulative sum.</summary>
    public long Read(long[] into)
    {
        for (int i = 0; i < BucketCount; i++)
        {
            into[i] = Volatile.Read(ref _counts[i]);
        }

        return Volatile.Read(ref _sum);
    }

    /// <summary>
    /// Registers <paramref name="reader"/>, whose first extremes are those of every value recorded so
    /// far (its first interval starts at the first value), unless it was registered before.
    /// </summary>
    public void Attach(HistogramCursor reader)
    {
        lock (_readGate)
        {
            if (reader.Histogram == this)
            {
                return;
            }

            Debug.Assert(reader.Histogram is null, "a cursor reads one histogram");
            Collect();
            reader.Histogram = this;
            reader.PendingMin = _everMin;
            reader.PendingMax = _everMax;
            _readers.Add(new WeakReference<HistogramCursor>(reader));
        }
    }

    /// <summary>
    /// The smallest and largest value recorded since <paramref name="reader"/>'s previous call
    /// (<see cref="long.MaxValue"/> and −1 when none). The values recorded since any reader's last call
    /// are handed to every registered reader, so readers at different paces each see whole intervals.
    /// </summary>
    public (long Min, long Max) TakeExtremes(HistogramCursor reader)
    {
        Attach(reader);
        lock (_readGate)
        {
            Collect();
            (long min, long max) = (reader.PendingMin, reader.PendingMax);
            reader.PendingMin = long.MaxValue;
            reader.PendingMax = -1;
            return (min, max);
        }
    }

    /// <summary>Takes the recorders' extremes and folds them into every live reader (under <see cref="_readGate"/>).</summary>
    private void Collect()
    {
        Debug.Assert(_readGate.IsHeldByCurrentThread, "readers are folded under the read gate");
        long min = Interlocked.Exchange(ref _min, long.MaxValue);
        long max = Interlocked.Exchange(ref _max, -1);
        _everMin = Math.Min(_everMin, min);
        _everMax = Math.Max(_everMax, max);
        for (int i = _readers.Count - 1; i >= 0; i--)
        {
            if (!_readers[i].TryGetTarget(out HistogramCursor? reader))
            {
                _readers.RemoveAt(i);
                continue;
            }

            reader.PendingMin = Math.Min(reader.PendingMin, min);
            reader.PendingMax = Math.Max(reader.PendingMax, max);
        }
    }

    private static void LowerTo(ref long target, long value)
    {
        long current = Volatile.Read(ref target);
        while (value < current)
        {
            long seen = Interlocked.CompareExchange(ref target, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }

    private static void RaiseTo(ref long target, long value)
    {
        long current = Volatile.Read(ref target);
        while (value > current)
        {
            long seen = Interlocked.CompareExchange(ref target, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }

    public static int BucketOf(long micros)
    {
        if (micros < SubBuckets)
        {
            return micros <= 0 ? 0 : (int)micros;
        }

        int magnitude = 63 - (int)long.LeadingZeroCount(micros);
        int shift = magnitude - SubBits;
        if (shift >= Magnitudes)
        {
            return BucketCount - 1;
        }

        int sub = (int)(micros >> shift) & (SubBuckets - 1);
        return SubBuckets + (shift * SubBuckets) + sub;
    }

    /// <summary>The smallest value a bucket holds, in microseconds.</summary>
    public static long LowOf(int bucket)
    {
        if (bucket < SubBuckets)
        {
            return bucket;
        }

        int shift = (bucket - SubBuckets) / SubBuckets;
        int sub = (bucket - SubBuckets) % SubBuckets;
        return (long)(SubBuckets + sub) << shift;
    }

    /// <summary>The largest value a bucket holds, in microseconds (the last bucket holds everything above).</summary>
    public static long HighOf(int bucket) => bucket == BucketCount - 1 ? long.MaxValue : LowOf(bucket + 1) - 1;

    /// <summary>The value a bucket stands for: its midpoint, in microseconds.</summary>
    public static double ValueOf(int bucket)
    {
        if (bucket < SubBuckets)
        {
            return bucket;
        }

        int shift = (bucket - SubBuckets) / SubBuckets;
        int sub = (bucket - SubBuckets) % SubBuckets;
        double low = (double)(SubBuckets + sub) * (1L << shift);
        double width = 1L << shift;
        return low + (width / 2);
    }
}
