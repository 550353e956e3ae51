namespace Engine.Metrics;

/// <summary>
/// A stage's figures: its shards' <see cref="ShardMetrics"/>, its kind dimension, and the cursors of
/// every consumer of its snapshots (the stage's own, each reporter's), so each consumer gets whole
/// intervals of its own. Snapshots are serialised by a gate that recording never takes.
/// </summary>
internal sealed class StageMetrics
{
    private readonly string? _pipeline;
    private readonly string _stage;
    private readonly TimeProvider _clock;
    private readonly bool _metricsEnabled;
    private readonly bool _recordsEndToEnd;

    /// <summary>Each shard's figures by index; null entries when metrics are off.</summary>
    private readonly ShardMetrics?[] _shards;

    /// <summary>Each shard's workers, for utilisation.</summary>
    private readonly int[] _workers;

    /// <summary>The kind dimension; null without a kind selector.</summary>
    private readonly KindTable? _kinds;

    /// <summary>When the stage started (clock ticks): where every consumer's first interval begins.</summary>
    private readonly long _started;

    /// <summary>Serialises snapshots (never taken by recording).</summary>
    private readonly Lock _snapshotGate = new();

    /// <summary>Every open cursor, under <see cref="_snapshotGate"/>: each is handed the depth peaks read.</summary>
    private readonly List<MetricsCursor> _cursors = [];

    public StageMetrics(string? pipeline, string stage, TimeProvider clock, bool metricsEnabled, bool recordsEndToEnd, ShardMetrics?[] shards, int[] workers, KindTable? kinds, long started)
    {
        _pipeline = pipeline;
        _stage = stage;
        _clock = clock;
        _metricsEnabled = metricsEnabled;
        _recordsEndToEnd = recordsEndToEnd;
        _shards = shards;
        _workers = workers;
        _kinds = kinds;
        _started = started;
    }

    /// <summary>A shard's cumulative busy time in seconds (0 with metrics off).</summary>
    public double BusySeconds(int shard) => _shards[shard]?.BusySeconds(_clock.GetTimestamp()) ?? 0;

    /// <summary>A cursor for a new consumer of snapshots; its first interval starts when the stage started. Close it when done.</summary>
    public MetricsCursor OpenCursor()
    {
        lock (_snapshotGate)
        {
            var shards = new ShardCursor[_shards.Length];
            for (int i = 0; i < shards.Length; i++)
            {
                shards[i] = _shards[i]?.OpenCursor() ?? new ShardCursor { PreviousSnapshot = _started };
            }

            var cursor = new MetricsCursor(shards, _started);
            _cursors.Add(cursor);
            return cursor;
        }
    }

    /// <summary>Stops tracking a consumer's cursor.</summary>
    public void CloseCursor(MetricsCursor cursor)
    {
        lock (_snapshotGate)
        {
            _cursors.Remove(cursor);
        }
    }

    /// <summary>
    /// Closes the interval of the consumer holding <paramref name="cursor"/> and returns its figures,
    /// per shard (whose counts <paramref name="readCounts"/> reads) and summed; also adds the interval's
    /// end-to-end buckets and sum into a pipeline's totals when given.
    /// </summary>
    public StageMetricsSnapshot TakeSnapshot(MetricsCursor cursor, Func<int, StageCounts> readCounts, long[]? endToEndTotal, ref long endToEndTotalSum)
    {
        lock (_snapshotGate)
        {
            long now = _clock.GetTimestamp();
            TimeSpan interval = _clock.GetElapsedTime(cursor.LastSnapshot, now);
            cursor.LastSnapshot = now;
            var shards = new ShardMetricsSnapshot[_shards.Length];
            StageCounts total = default;
            StageCounts intervalTotal = default;
            var work = new long[LatencyHistogram.BucketCount];
            var wait = new long[LatencyHistogram.BucketCount];
            var endToEnd = new long[LatencyHistogram.BucketCount];
            var workDelta = new long[LatencyHistogram.BucketCount];
            var waitDelta = new long[LatencyHistogram.BucketCount];
            var endToEndDelta = new long[LatencyHistogram.BucketCount];
            long workSum = 0;
            long waitSum = 0;
            long endToEndSum = 0;
            double busyWorkers = 0;
            int workers = 0;

            // Every shard's histograms ask for their next interval first, so one process-wide barrier
            // serves them all (see ProcessBarrier).
            foreach (ShardMetrics? metrics in _shards)
            {
                metrics?.PrepareSnapshot();
            }

            for (int i = 0; i < _shards.Length; i++)
            {
                StageCounts counts = readCounts(i);
                ShardCursor shardCursor = cursor.Shards[i];
                if (_shards[i] is { } metrics)
                {
                    // The peak is reset when read, so every consumer gets a share of each read.
                    long peak = metrics.TakePeak();
                    foreach (MetricsCursor open in _cursors)
                    {
                        open.Shards[i].Peak = Math.Max(open.Shards[i].Peak, peak);
                    }

                    shards[i] = metrics.Snapshot(i, counts, now, shardCursor, workDelta, waitDelta, endToEndDelta, out long w, out long q, out long e);
                    Accumulate(work, workDelta);
                    Accumulate(wait, waitDelta);
                    Accumulate(endToEnd, endToEndDelta);
                    workSum += w;
                    waitSum += q;
                    endToEndSum += e;
                    busyWorkers += shards[i].Utilization * _workers[i];
                }
                else
                {
                    shards[i] = new ShardMetricsSnapshot { Shard = i, Counts = counts, IntervalCounts = counts.Minus(shardCursor.PreviousCounts), Interval = interval, Depth = counts.Waiting };
                }

                shardCursor.PreviousCounts = counts;
                workers += _workers[i];
                total += counts;
                intervalTotal += shards[i].IntervalCounts;
            }

            if (endToEndTotal is not null && _recordsEndToEnd)
            {
                Accumulate(endToEndTotal, endToEnd);
                endToEndTotalSum += endToEndSum;
            }

            return new StageMetricsSnapshot
            {
                Pipeline = _pipeline,
                Stage = _stage,
                Timestamp = _clock.GetUtcNow(),
                Interval = interval,
                Shards = shards,
                Counts = total,
                IntervalCounts = intervalTotal,
                Utilization = workers == 0 ? 0 : busyWorkers / workers,
                WorkDuration = LatencySummary.Merge(work, workSum, shards.Select(s => s.WorkDuration)),
                QueueWait = LatencySummary.Merge(wait, waitSum, shards.Select(s => s.QueueWait)),
                EndToEnd = _recordsEndToEnd && _metricsEnabled
                    ? LatencySummary.Merge(endToEnd, endToEndSum, shards.Select(s => s.EndToEnd ?? LatencySummary.Empty))
                    : null,
                // Only a batch node records sizes, and it is one shard: its shard's summary is the node's.
                BatchSize = shards.Length == 1 ? shards[0].BatchSize : null,
                Kinds = ReadKinds(),
            };
        }
    }

    private static void Accumulate(long[] total, long[] delta)
    {
        for (int i = 0; i < total.Length; i++)
        {
            total[i] += delta[i];
        }
    }

    private List<KindMetrics> ReadKinds()
    {
        var kinds = new List<KindMetrics>();
        if (_kinds is not { } table)
        {
            return kinds;
        }

        IReadOnlyList<string> names = table.Names;
        for (int k = 0; k < names.Count; k++)
        {
            long processed = 0;
            long errors = 0;
            long dead = 0;
            foreach (ShardMetrics? metrics in _shards)
            {
                if (metrics?.KindCounts is { } counts)
                {
                    processed += Volatile.Read(ref counts[k * 3]);
                    errors += Volatile.Read(ref counts[(k * 3) + 1]);
                    dead += Volatile.Read(ref counts[(k * 3) + 2]);
                }
            }

            kinds.Add(new KindMetrics(names[k], processed, errors, dead));
        }

        return kinds;
    }
}
