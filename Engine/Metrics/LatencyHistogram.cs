using System.Diagnostics;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace Engine.Metrics;

/// <summary>
/// A log-linear latency histogram in microseconds: values below 32 µs have a bucket each; above, every
/// power of two is split into 32 buckets, so any value is known within about 3%. Next to the buckets it
/// keeps the count, sum, smallest, largest and last value, and every reader's interval holds exactly
/// the values recorded in it: its buckets, count, sum, extremes and last value describe the same
/// samples, however a snapshot races recording. A snapshot never stops or resets recording and a
/// sample is never lost.
/// </summary>
/// <remarks>
/// <para>
/// The library keeps no dependency beyond the BCL, so this replaces HdrHistogram. Recording takes no
/// lock and allocates nothing: a record is written inside a sequence (odd while it is written), into
/// the buckets and extremes of the current <em>epoch</em>. A reader closes an interval by asking for
/// the next epoch; the first record that sees the request moves the epoch's totals, extremes and last
/// value aside and starts the next epoch in the other of two bucket arrays. The reader then reads a
/// consistent cut through the sequence (retrying while a record is half written): either the epoch it
/// asked for has started, and the interval is the closed epoch, or no record has seen the request yet,
/// and the interval is everything recorded so far (every later record starts the new epoch).
/// </para>
/// <para>
/// With one writer the sequence is written with plain stores (no interlocked instruction); the reader
/// makes its request visible to that writer with a process-wide memory barrier
/// (<see cref="ProcessBarrier"/>), so a record either sees the request or is already visible as in
/// progress. With several writers the sequence doubles as a spin lock taken with one compare-and-swap,
/// which is also the full fence the request needs; that replaces the two interlocked additions (count
/// and sum) the histogram used before.
/// </para>
/// </remarks>
[DebuggerDisplay("Histogram: Epoch = {_epoch}, Sum = {_sum}")]
internal sealed class LatencyHistogram
{
    public const int SubBits = 5;
    public const int SubBuckets = 1 << SubBits;
    public const int Magnitudes = 36;
    public const int BucketCount = SubBuckets + (Magnitudes * SubBuckets);

    /// <summary>The bucket arrays of even and odd epochs; the reader allocates the next one before it asks for that epoch and zeroes a closed one after reading it.</summary>
    private readonly long[]?[] _buckets = [new long[BucketCount], null];


    private readonly bool _singleWriter;

    /// <summary>Odd while a record is being written; written by recorders only.</summary>
    private long _sequence;

    /// <summary>The epoch the readers asked for; written by readers only (under <see cref="_readGate"/>).</summary>
    private long _requested;

    // The fields below are written by recorders only, inside the sequence.

    /// <summary>The epoch records are written into.</summary>
    private long _epoch;

    /// <summary>The sum of every value recorded (their number is half the sequence).</summary>
    private long _sum;

    /// <summary>The bucket array of <see cref="_epoch"/>.</summary>
    private long[] _current;

    /// <summary>Smallest, largest and last value of the current epoch (<see cref="long.MaxValue"/>, −1 and 0 with none), and when the last was recorded.</summary>
    private long _min = long.MaxValue;
    private long _max = -1;
    private long _last;
    private long _lastAt;

    /// <summary>The epoch closed last, the count and sum when it closed, and its extremes and last value.</summary>
    private long _closedEpoch;
    private long _closedCount;
    private long _closedSum;
    private long _closedMin = long.MaxValue;
    private long _closedMax = -1;
    private long _closedLast;
    private long _closedLastAt;

    /// <summary>Serialises readers; never taken when recording.</summary>
    private readonly Lock _readGate = new();

    /// <summary>Every reader's cursor, held weakly: a closed cursor is not announced, it just stops being referenced.</summary>
    private readonly List<WeakReference<HistogramCursor>> _readers = [];

    /// <summary>Everything collected so far, for a reader that attaches late; under <see cref="_readGate"/>.</summary>
    private readonly HistogramInterval _total = new();

    /// <summary>Where a collect folds the interval: <see cref="_total"/> and every live reader's pending interval; reused under <see cref="_readGate"/>.</summary>
    private readonly List<HistogramInterval> _targets = [];

    /// <summary>The count and sum handed to readers so far; under <see cref="_readGate"/>.</summary>
    private long _collectedCount;
    private long _collectedSum;

    /// <summary>Whether <see cref="Prepare"/> asked for an epoch that no collect has taken yet, and the barrier mark taken then; under <see cref="_readGate"/>.</summary>
    private bool _prepared;
    private long _preparedMark;

    public LatencyHistogram(bool singleWriter)
    {
        _singleWriter = singleWriter;
        _current = _buckets[0]!;
    }

    /// <summary>The most recently recorded value, in microseconds (as of the last record; for diagnostics).</summary>
    public long Last => Volatile.Read(ref _last);

    /// <summary>Records a duration in microseconds that ended at <paramref name="at"/> (clock ticks).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Record(long micros, long at)
    {
        long value = Math.Max(0, micros);
        int bucket = BucketOf(value);
        long sequence;
        if (_singleWriter)
        {
            sequence = _sequence;
            Debug.Assert((sequence & 1) == 0, "a single writer never finds a record half written");
            Volatile.Write(ref _sequence, sequence + 1);
        }
        else
        {
            sequence = EnterShared();
        }

        // Every store below is a release: none becomes visible before the odd sequence, so a reader
        // that sees the sequence unchanged across its reads saw none of a half-written record.
        long requested = Volatile.Read(ref _requested);
        if (requested != _epoch)
        {
            CloseEpoch(requested, sequence / 2);
        }

        ref long slot = ref _current[bucket];
        Volatile.Write(ref slot, slot + 1);
        Volatile.Write(ref _sum, _sum + value);
        if (value < _min)
        {
            Volatile.Write(ref _min, value);
        }

        if (value > _max)
        {
            Volatile.Write(ref _max, value);
        }

        Volatile.Write(ref _last, value);
        Volatile.Write(ref _lastAt, at);
        Volatile.Write(ref _sequence, sequence + 2);
    }

    /// <summary>Records a duration in microseconds (negative values count as 0; huge ones go to the last bucket).</summary>
    public void Record(long micros) => Record(micros, 0);

    /// <summary>Starts writing a record with several writers: the even sequence it starts from, now made odd.</summary>
    private long EnterShared()
    {
        // Several writers take the sequence as a spin lock: a record is a handful of stores, so a
        // writer that finds it taken waits for about as long as an interlocked add would have.
        var spinner = default(SpinWait);
        while (true)
        {
            long sequence = Volatile.Read(ref _sequence);
            if ((sequence & 1) == 0 && Interlocked.CompareExchange(ref _sequence, sequence + 1, sequence) == sequence)
            {
                return sequence;
            }

            spinner.SpinOnce(sleep1Threshold: -1);
        }
    }

    /// <summary>Moves the current epoch's figures (<paramref name="count"/> values so far) aside and starts <paramref name="requested"/> (inside the sequence).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void CloseEpoch(long requested, long count)
    {
        Debug.Assert(requested > _epoch, "readers only ask for later epochs");
        Debug.Assert(_buckets[(int)(requested & 1)] is not null, "the reader allocates the next epoch's buckets before asking for it");
        Volatile.Write(ref _closedEpoch, _epoch);
        Volatile.Write(ref _closedCount, count);
        Volatile.Write(ref _closedSum, _sum);
        Volatile.Write(ref _closedMin, _min);
        Volatile.Write(ref _closedMax, _max);
        Volatile.Write(ref _closedLast, _last);
        Volatile.Write(ref _closedLastAt, _lastAt);
        Volatile.Write(ref _min, long.MaxValue);
        Volatile.Write(ref _max, -1);
        Volatile.Write(ref _current, _buckets[(int)(requested & 1)]!);
        Volatile.Write(ref _epoch, requested);
    }

    /// <summary>
    /// Registers <paramref name="reader"/>, whose first interval holds every value recorded so far
    /// (it starts at the first value), unless it was registered before.
    /// </summary>
    public void Attach(HistogramCursor reader)
    {
        lock (_readGate)
        {
            AttachLocked(reader);
        }
    }

    private void AttachLocked(HistogramCursor reader)
    {
        if (reader.Histogram == this)
        {
            return;
        }

        Debug.Assert(reader.Histogram is null, "a cursor reads one histogram");
        Collect();
        reader.Histogram = this;
        reader.Pending.Add(_total);
        _readers.Add(new WeakReference<HistogramCursor>(reader));
    }

    /// <summary>
    /// Closes <paramref name="reader"/>'s interval: everything recorded since its previous call is moved
    /// into <paramref name="into"/> (which is cleared first). The values recorded since any reader's last
    /// call are handed to every registered reader, so readers at different paces each see whole intervals.
    /// </summary>
    public void Take(HistogramCursor reader, HistogramInterval into)
    {
        lock (_readGate)
        {
            AttachLocked(reader);
            Collect();
            into.Clear();
            into.Add(reader.Pending);
            reader.Pending.Clear();
        }
    }

    /// <summary>
    /// Asks recorders for the next epoch now, so that one <see cref="ProcessBarrier"/> can serve many
    /// histograms read together (a stage's shards); the next <see cref="Take"/> closes at that request.
    /// </summary>
    public void Prepare()
    {
        lock (_readGate)
        {
            if (!_prepared)
            {
                Request();
                _prepared = true;
            }
        }
    }

    /// <summary>Publishes the request for the next epoch (under <see cref="_readGate"/>).</summary>
    private void Request()
    {
        long next = _requested + 1;
        ref long[]? buckets = ref _buckets[(int)(next & 1)];
        buckets ??= new long[BucketCount];

        // A full fence: the request (and the buckets above) are visible before the barrier mark and
        // before the sequence is read.
        Interlocked.Exchange(ref _requested, next);
        _preparedMark = ProcessBarrier.Mark();
    }

    /// <summary>Closes the interval since the previous collect and folds it into every reader (under <see cref="_readGate"/>).</summary>
    private void Collect()
    {
        Debug.Assert(_readGate.IsHeldByCurrentThread, "readers collect under the read gate");
        if (!_prepared)
        {
            Request();
        }

        _prepared = false;
        if (_singleWriter)
        {
            // The writer stores its sequence and loads the request with no fence between: a barrier
            // on every core after the request makes sure that a record which missed the request
            // shows as in progress now, so the cut below waits for it.
            ProcessBarrier.PassSince(_preparedMark);
        }

        long requested = _requested;
        Cut cut = ReadCut();
        bool switched = cut.Epoch == requested;
        long count = (switched ? cut.ClosedCount : cut.Count) - _collectedCount;
        if (count == 0)
        {
            return;
        }

        // A non-empty interval is the epoch before the requested one: every record after the previous
        // collect saw at least that epoch, and none wrote into it after this cut.
        Debug.Assert(count > 0 && (switched ? cut.ClosedEpoch : cut.Epoch) == requested - 1, "the interval is the epoch before the request");
        long sum = (switched ? cut.ClosedSum : cut.Sum) - _collectedSum;
        _collectedCount += count;
        _collectedSum += sum;
        _targets.Clear();
        _targets.Add(_total);
        for (int i = _readers.Count - 1; i >= 0; i--)
        {
            if (_readers[i].TryGetTarget(out HistogramCursor? reader))
            {
                _targets.Add(reader.Pending);
            }
            else
            {
                _readers.RemoveAt(i);
            }
        }

        foreach (HistogramInterval target in _targets)
        {
            target.AddFigures(
                count,
                sum,
                switched ? cut.ClosedMin : cut.Min,
                switched ? cut.ClosedMax : cut.Max,
                switched ? cut.ClosedLast : cut.Last,
                switched ? cut.ClosedLastAt : cut.LastAt);
        }

        long[] closed = _buckets[(int)((requested - 1) & 1)]!;
        long inBuckets = 0;
        for (int i = 0; i < closed.Length; i++)
        {
            long n = Volatile.Read(ref closed[i]);
            if (n == 0)
            {
                continue;
            }

            inBuckets += n;
            foreach (HistogramInterval target in _targets)
            {
                target.Buckets[i] += n;
            }

            // Zeroed before the next request is published, so the epoch after next starts empty.
            closed[i] = 0;
        }

        Debug.Assert(inBuckets == count, "the buckets hold exactly the interval's values");
    }

    /// <summary>Reads the recorders' figures between two equal, even sequence values.</summary>
    private Cut ReadCut()
    {
        var spinner = default(SpinWait);
        while (true)
        {
            long before = Volatile.Read(ref _sequence);
            if ((before & 1) == 0)
            {
                var cut = new Cut(
                    Volatile.Read(ref _epoch),
                    before / 2,
                    Volatile.Read(ref _sum),
                    Volatile.Read(ref _min),
                    Volatile.Read(ref _max),
                    Volatile.Read(ref _last),
                    Volatile.Read(ref _lastAt),
                    Volatile.Read(ref _closedEpoch),
                    Volatile.Read(ref _closedCount),
                    Volatile.Read(ref _closedSum),
                    Volatile.Read(ref _closedMin),
                    Volatile.Read(ref _closedMax),
                    Volatile.Read(ref _closedLast),
                    Volatile.Read(ref _closedLastAt));
                if (Volatile.Read(ref _sequence) == before)
                {
                    return cut;
                }
            }

            spinner.SpinOnce();
        }
    }

    /// <summary>The bucket of a value in microseconds (0 and below: bucket 0; huge values: the last bucket).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int BucketOf(long micros)
    {
        if (micros <= 0)
        {
            return 0;
        }

        // Values below 32 µs have shift 0 and are their own bucket; above, the bucket is 32 per power
        // of two plus the value's top 6 bits (32 to 63), so one formula serves both without a branch.
        int shift = 58 - BitOperations.LeadingZeroCount((ulong)micros | SubBuckets);
        if (shift >= Magnitudes)
        {
            return BucketCount - 1;
        }

        return (shift << SubBits) + (int)(micros >> shift);
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

    /// <summary>The recorders' figures as one reader saw them, between two equal sequence values.</summary>
    private readonly record struct Cut(
        long Epoch, long Count, long Sum, long Min, long Max, long Last, long LastAt,
        long ClosedEpoch, long ClosedCount, long ClosedSum, long ClosedMin, long ClosedMax, long ClosedLast, long ClosedLastAt);
}
