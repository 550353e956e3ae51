namespace Engine.Metrics;

/// <summary>
/// A log-linear latency histogram in microseconds: values below 32 µs have a bucket each; above, every
/// power of two is split into 32 buckets, so any value is known within about 3%. Counts only grow;
/// an interval is the difference of two reads, so a snapshot never stops or resets recording and a
/// sample is never lost (one recorded while a snapshot reads may land in the next interval).
/// </summary>
/// <remarks>
/// The library keeps no dependency beyond the BCL, so this replaces HdrHistogram: recording is one
/// array increment (plain with a single writer, interlocked otherwise) and an add to the sum, with
/// no lock and no allocation.
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
        int bucket = BucketOf(micros);
        Volatile.Write(ref _last, micros);
        if (_singleWriter)
        {
            _counts[bucket]++;
            _sum += Math.Max(0, micros);
        }
        else
        {
            Interlocked.Increment(ref _counts[bucket]);
            Interlocked.Add(ref _sum, Math.Max(0, micros));
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
