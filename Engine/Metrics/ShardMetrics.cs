using System.Diagnostics;
using Engine.Shards;

namespace Engine.Metrics;

/// <summary>
/// One shard's timing instruments: work duration, queue wait and (in a pipeline's last stages)
/// end-to-end latency histograms, busy time per worker slot, and the depth peak. Written by the
/// shard's own writers and workers only (as the shard's <see cref="ShardObserver"/>); read by snapshots.
/// </summary>
internal sealed class ShardMetrics : ShardObserver
{
    /// <summary>The stage's kind dimension; null without a kind selector.</summary>
    private readonly KindTable? _kinds;

    private readonly double _microsPerTick;

    /// <summary>See <see cref="RunTiming.ExactGroupTicks"/>.</summary>
    private readonly long _exactGroupTicks;

    /// <summary>Where <see cref="Snapshot"/> takes each histogram's interval; reused (the stage serialises snapshots).</summary>
    private readonly HistogramInterval _taken = new();
    private readonly long _startTimestamp;
    private long _peakHeld;
    private long _busyReported;

    private readonly KeyValuePair<string, object?>[] _tags;
    private readonly double _secondsPerTick;

    /// <summary>The meter whose histograms this shard records into while a listener wants them.</summary>
    private readonly EngineMeter _meter;

    // batchSizes: the shard is a batcher's, which also records the size of every batch it emits (RecordBatchSize).
    public ShardMetrics(int workers, bool endToEnd, KindTable? kinds, long startTimestamp, long timestampFrequency, KeyValuePair<string, object?>[] tags, EngineMeter meter, bool batchSizes = false)
    {
        _kinds = kinds;
        _tags = tags;
        _meter = meter;
        _secondsPerTick = 1.0 / timestampFrequency;
        bool single = workers == 1;
        WorkDuration = new LatencyHistogram(single);
        QueueWait = new LatencyHistogram(single);
        EndToEnd = endToEnd ? new LatencyHistogram(single) : null;

        // Sizes in the latency histogram's buckets (exact below 32, to about 3% above), read as a
        // summary whose milliseconds carry items, as a keyed window's items per window are.
        BatchSize = batchSizes ? new LatencyHistogram(single) : null;
        Slots = new WorkerSlot[workers];
        for (int i = 0; i < workers; i++)
        {
            Slots[i] = new WorkerSlot();
        }

        KindCounts = kinds is null ? null : new long[kinds.Capacity * 3];
        SingleWriter = single;
        _microsPerTick = 1_000_000.0 / timestampFrequency;
        _exactGroupTicks = RunTiming.ExactGroupTicks(timestampFrequency);
        _startTimestamp = startTimestamp;
        TicksPerSecond = timestampFrequency;
    }

    public LatencyHistogram WorkDuration { get; }

    public LatencyHistogram QueueWait { get; }

    public LatencyHistogram? EndToEnd { get; }

    /// <summary>Items per emitted batch (a batcher's shard only; null elsewhere).</summary>
    public LatencyHistogram? BatchSize { get; }

    /// <summary>One per worker; a running loop owns one (see <see cref="WorkerSlot"/>).</summary>
    public WorkerSlot[] Slots { get; }

    /// <summary>Per kind: processed, handler errors, dead-lettered (three longs per kind index).</summary>
    public long[]? KindCounts { get; }

    public bool SingleWriter { get; }

    public long TicksPerSecond { get; }

    public long Micros(long ticks) => (long)(ticks * _microsPerTick);

    /// <summary>Records one handler run's duration (and on the meter while a listener wants it).</summary>
    public void RecordWork(long ticks, long at)
    {
        WorkDuration.Record(Micros(ticks), at);
        if (_meter.WorkDuration.Enabled)
        {
            _meter.WorkDuration.Record(ticks * _secondsPerTick, _tags);
        }
    }

    /// <summary>Records one item's wait from accept to its first handler start.</summary>
    public void RecordWait(long ticks, long at)
    {
        QueueWait.Record(Micros(ticks), at);
        if (_meter.QueueWait.Enabled)
        {
            _meter.QueueWait.Record(ticks * _secondsPerTick, _tags);
        }
    }

    /// <summary>Records one item's end-to-end latency (sink stages only).</summary>
    public void RecordEndToEnd(long ticks, long at)
    {
        EndToEnd?.Record(Micros(ticks), at);
        if (_meter.EndToEnd.Enabled)
        {
            _meter.EndToEnd.Record(ticks * _secondsPerTick, _tags);
        }
    }

    /// <summary>Records the size of one batch emitted at <paramref name="at"/> (a batcher's shard only).</summary>
    public void RecordBatchSize(int items, long at)
    {
        Debug.Assert(BatchSize is not null, "only a batcher's shard records batch sizes");
        BatchSize.Record(items, at);
        if (_meter.BatchSize.Enabled)
        {
            _meter.BatchSize.Record(items, _tags);
        }
    }

    /// <summary>
    /// Cumulative busy seconds: finished runs plus the running part of unfinished ones. Never lower
    /// than a value reported before (a run finishing between two reads could otherwise make a
    /// cumulative counter step back, which exporters read as a reset).
    /// </summary>
    public double BusySeconds(long now)
    {
        long busy = ReadBusy(now, out _, out _);
        return RaiseTo(ref _busyReported, busy) * _secondsPerTick;
    }

    /// <summary>Notes how many items the shard holds after an accept, for the peak.</summary>
    public void ObserveHeld(long held) => RaiseTo(ref _peakHeld, held);

    /// <summary>
    /// Busy ticks at <paramref name="now"/>: finished runs plus the running part of the runs in
    /// progress, whose summed and longest ages are returned too.
    /// </summary>
    private long ReadBusy(long now, out long unfinished, out long longest)
    {
        long busy = 0;
        unfinished = 0;
        longest = 0;
        foreach (WorkerSlot slot in Slots)
        {
            // Busy before Start: a finishing worker clears Start before adding to Busy, so this order
            // can miss a just-finished item for one read but never counts it twice.
            busy += Volatile.Read(ref slot.Busy);
            long start = Volatile.Read(ref slot.Start);
            if (start != 0)
            {
                long age = Math.Max(0, now - start);
                busy += age;
                unfinished += age;
                longest = Math.Max(longest, age);
            }
        }

        return busy;
    }

    /// <summary>Raises <paramref name="target"/> to <paramref name="value"/> if it is lower; returns the value it holds after.</summary>
    private static long RaiseTo(ref long target, long value)
    {
        long current = Volatile.Read(ref target);
        while (value > current)
        {
            long seen = Interlocked.CompareExchange(ref target, value, current);
            if (seen == current)
            {
                return value;
            }

            current = seen;
        }

        return current;
    }

    /// <inheritdoc/>
    public override bool RecordsEndToEnd => EndToEnd is not null;

    /// <inheritdoc/>
    public override bool CountsKinds => _kinds is not null;

    /// <inheritdoc/>
    public override ShardWorker ClaimWorker() => ClaimSlot();

    /// <inheritdoc/>
    public override void Held(long items) => ObserveHeld(items);

    /// <inheritdoc/>
    public override void RunStarted(ShardWorker worker, long start, long waited)
    {
        if (waited >= 0)
        {
            RecordWait(waited, start);
        }

        ((WorkerSlot)worker).Begin(start);
    }

    /// <inheritdoc/>
    public override void RunEnded(ShardWorker worker, long start, long end)
    {
        ((WorkerSlot)worker).End(end);
        RecordWork(end - start, end);
    }

    /// <inheritdoc/>
    public override void RunsEnded(ShardWorker worker, long start, long end, int runs)
    {
        ((WorkerSlot)worker).End(end);
        long span = end - start;
        if (span < _exactGroupTicks)
        {
            // Every run of the group took less than the histogram's resolution: recorded exactly.
            for (int i = 0; i < runs; i++)
            {
                RecordWork(span / runs, end);
            }

            return;
        }

        // Which run took the time is unknown: the span as one run and the rest as none keeps the
        // sum and the count exact and never understates the maximum.
        RecordWork(span, end);
        for (int i = 1; i < runs; i++)
        {
            RecordWork(0, end);
        }
    }

    /// <inheritdoc/>
    public override void EndToEndLatency(long ticks, long at) => RecordEndToEnd(ticks, at);

    /// <inheritdoc/>
    public override void Kind(string? kind, RunOutcome outcome) => CountKind(_kinds!.IndexOf(kind), (int)outcome);

    public WorkerSlot ClaimSlot()
    {
        foreach (WorkerSlot slot in Slots)
        {
            if (Interlocked.CompareExchange(ref slot.Owned, 1, 0) == 0)
            {
                return slot;
            }
        }

        // Cannot happen: no more loops run than there are slots. Degrade to an unshared slot.
        return new WorkerSlot { Owned = 1 };
    }

    public void CountKind(int kind, int what)
    {
        if (SingleWriter)
        {
            KindCounts![(kind * 3) + what]++;
        }
        else
        {
            Interlocked.Increment(ref KindCounts![(kind * 3) + what]);
        }
    }

    /// <summary>A cursor for a new consumer: its first interval starts when the shard started.</summary>
    public ShardCursor OpenCursor() => new()
    {
        PreviousSnapshot = _startTimestamp,
        Work = new HistogramCursor(),
        Wait = new HistogramCursor(),
        EndToEnd = EndToEnd is null ? null : new HistogramCursor(),
        BatchSize = BatchSize is null ? null : new HistogramCursor(),
    };

    /// <summary>The most items held at an accept since the previous call (which reset it).</summary>
    public long TakePeak() => Interlocked.Exchange(ref _peakHeld, 0);

    /// <summary>
    /// Closes <paramref name="cursor"/>'s interval at <paramref name="now"/>: histogram deltas with their
    /// exact extremes, busy time
    /// (finished work plus the running part of unfinished work), utilisation, unfinished work and the
    /// cursor's depth peak (reset). Call from one thread at a time (the stage serialises snapshots).
    /// </summary>
    public ShardMetricsSnapshot Snapshot(int shard, StageCounts counts, long now, ShardCursor cursor, long[] workDelta, long[] waitDelta, long[] endToEndDelta, out long workSum, out long waitSum, out long endToEndSum)
    {
        long busy = ReadBusy(now, out long unfinished, out long longest);

        long busyDelta = Math.Max(0, busy - cursor.PreviousBusy);
        cursor.PreviousBusy = Math.Max(cursor.PreviousBusy, busy);
        long elapsed = Math.Max(0, now - cursor.PreviousSnapshot);
        cursor.PreviousSnapshot = now;
        double utilization = elapsed == 0 ? 0 : Math.Clamp(busyDelta / ((double)elapsed * Slots.Length), 0, 1);

        LatencySummary work = Take(WorkDuration, cursor.Work!, workDelta, out workSum);
        LatencySummary wait = Take(QueueWait, cursor.Wait!, waitDelta, out waitSum);
        LatencySummary? endToEnd = null;
        endToEndSum = 0;
        if (EndToEnd is null)
        {
            Array.Clear(endToEndDelta);
        }
        else
        {
            endToEnd = Take(EndToEnd, cursor.EndToEnd!, endToEndDelta, out endToEndSum);
        }

        LatencySummary? batchSize = null;
        if (BatchSize is not null)
        {
            BatchSize.Take(cursor.BatchSize!, _taken);
            batchSize = LatencySummary.From(_taken).Thousandfold();
        }

        StageCounts interval = counts.Minus(cursor.PreviousCounts);
        cursor.PreviousCounts = counts;
        long peak = cursor.Peak;
        cursor.Peak = 0;
        return new ShardMetricsSnapshot
        {
            Shard = shard,
            Counts = counts,
            IntervalCounts = interval,
            Interval = TimeSpan.FromSeconds(elapsed / (double)TicksPerSecond),
            Depth = counts.Waiting,
            DepthPeak = Math.Max(peak, counts.Waiting + counts.InFlight),
            BusyTime = TimeSpan.FromSeconds(busy / (double)TicksPerSecond),
            Utilization = utilization,
            UnfinishedWork = TimeSpan.FromSeconds(unfinished / (double)TicksPerSecond),
            LongestRunning = TimeSpan.FromSeconds(longest / (double)TicksPerSecond),
            WorkDuration = work,
            QueueWait = wait,
            EndToEnd = endToEnd,
            BatchSize = batchSize,
        };
    }

    /// <summary>Closes <paramref name="cursor"/>'s interval of <paramref name="histogram"/>: its buckets into <paramref name="delta"/>, its sum, and its summary.</summary>
    private LatencySummary Take(LatencyHistogram histogram, HistogramCursor cursor, long[] delta, out long sum)
    {
        histogram.Take(cursor, _taken);
        Array.Copy(_taken.Buckets, delta, delta.Length);
        sum = _taken.Sum;
        return LatencySummary.From(_taken);
    }

    /// <summary>Asks every histogram of the shard for a new interval, ahead of a <see cref="Snapshot"/> (see <see cref="LatencyHistogram.Prepare"/>).</summary>
    public void PrepareSnapshot()
    {
        WorkDuration.Prepare();
        QueueWait.Prepare();
        EndToEnd?.Prepare();
        BatchSize?.Prepare();
    }

    /// <summary>A worker's timing: the start of the handler run in progress (0 when idle) and the busy time of finished runs.</summary>
    internal sealed class WorkerSlot : ShardWorker
    {
        /// <summary>1 while a loop owns the slot.</summary>
        public int Owned;

        /// <summary>Timestamp the running handler started at; 0 when none runs.</summary>
        public long Start;

        /// <summary>Ticks spent in finished handler runs; written only by the owning loop.</summary>
        public long Busy;

        public void Begin(long now) => Volatile.Write(ref Start, now == 0 ? 1 : now);

        public void End(long now)
        {
            long start = Start;
            Volatile.Write(ref Start, 0);
            Volatile.Write(ref Busy, Busy + Math.Max(0, now - start));
        }

        public override void Release() => Volatile.Write(ref Owned, 0);
    }
}
