

namespace Engine.Metrics;

/// <summary>
/// Every metric the engine publishes, once: its App.Metrics name, kind and unit, its dimension, its
/// description, its instrument on the <c>Engine</c> meter, and how each is read. The meter
/// (<see cref="EngineMeter"/>) and the App.Metrics formatter (InfluxDB and text) iterate these lists,
/// and a test holds docs/metrics.md to them; the reporters' own figures, which <c>Metrics</c> cannot
/// see, are listed the same way in <c>Engine.Reporting.ReporterMetricCatalogue</c>. Each list is in the
/// order its points are written (App.Metrics then groups them by kind, keeping that order within a kind);
/// the entries other code names (the meter's histograms, the console's count columns) are also fields.
/// </summary>
/// <remarks>
/// The catalogue is read only when a report is written or a meter listener collects: figures are
/// recorded into the shards' counters and histograms directly, as before. Adding a metric is one entry
/// here, plus recording it where it happens (and, when the snapshot does not carry it yet, a property
/// on the snapshot).
/// </remarks>
internal static class MetricCatalogue
{
    /// <summary>App.Metrics' context for every engine metric: the <c>engine</c> of <c>engine__queue_depth</c>.</summary>
    public const string Context = "engine";

    /// <summary>Items waiting in the shard now.</summary>
    public static readonly MetricDefinition<ShardMetricsSnapshot, LiveShard> QueueDepth = MetricDefinition<ShardMetricsSnapshot, LiveShard>.Gauge(
        "queue_depth", "items", "Items waiting in the shard now.", s => s.Depth, new("engine.queue.depth", "{item}"), FromCounts(c => c.Waiting));

    /// <summary>Handler time per run; the meter's histogram is recorded by the shard.</summary>
    public static readonly MetricDefinition<ShardMetricsSnapshot, LiveShard> WorkDuration = MetricDefinition<ShardMetricsSnapshot, LiveShard>.Timer(
        "work_duration", "items", "Handler time per run.", s => s.WorkDuration, new("engine.work.duration", "s"));

    /// <summary>Accept to first handler start; the meter's histogram is recorded by the shard.</summary>
    public static readonly MetricDefinition<ShardMetricsSnapshot, LiveShard> QueueWait = MetricDefinition<ShardMetricsSnapshot, LiveShard>.Timer(
        "queue_wait", "items", "Time from accept to the first handler start.", s => s.QueueWait, new("engine.queue.wait", "s"));

    /// <summary>Pipeline entry to settled at a sink; the meter's histogram is recorded by the sink's shards.</summary>
    public static readonly MetricDefinition<ShardMetricsSnapshot, LiveShard> EndToEndLatency = MetricDefinition<ShardMetricsSnapshot, LiveShard>.Timer(
        "end_to_end_latency", "items", "Time from pipeline entry to settled at the last stage.", s => s.EndToEnd, new("engine.end_to_end.latency", "s"));

    /// <summary>Items per emitted batch (batch nodes only); the meter's histogram is recorded by the batch node.</summary>
    public static readonly MetricDefinition<ShardMetricsSnapshot, LiveShard> BatchSize = MetricDefinition<ShardMetricsSnapshot, LiveShard>.Histogram(
        "batch_size", "items", "Items per batch a batch node emitted.", s => s.BatchSize, new("engine.batch.size", "{item}"));

    /// <summary>Time callers waited for a limiter slot; the meter's histogram is recorded by the limiter.</summary>
    public static readonly MetricDefinition<LimiterMetricsSnapshot, ILimiterMetricsSource> LimiterWaitTime = MetricDefinition<LimiterMetricsSnapshot, ILimiterMetricsSource>.Timer(
        "limiter_wait_time", "items", "Time callers waited for a concurrency limiter slot.", s => s.WaitTime, new("engine.limiter.wait", "s"));

    /// <summary>Writes turned away; with <see cref="ItemsDropped"/>, the console's <c>dropped</c>.</summary>
    public static readonly CountsCounter ItemsRefused = ShardCounter("items_refused", "items", "Writes turned away without accepting the item.", c => c.Refused, new("engine.items.refused", "{item}"));

    /// <summary>Handler exceptions; the console's <c>errors</c>.</summary>
    public static readonly CountsCounter HandlerErrors = ShardCounter("handler_errors", "errors", "Exceptions thrown by handlers.", c => c.HandlerErrors, new("engine.handler.errors", "{item}"));

    /// <summary>Retries scheduled; the console's <c>retries</c>.</summary>
    public static readonly CountsCounter Retries = ShardCounter("retries", "items", "Retries scheduled.", c => c.Retries, new("engine.retries", "{item}"));

    /// <summary>Items that failed permanently; the console's <c>dead</c>.</summary>
    public static readonly CountsCounter DeadLettered = ShardCounter("dead_lettered", "items", "Items that failed permanently.", c => c.DeadLettered, new("engine.items.dead_lettered", "{item}"));

    /// <summary>Items superseded, by reason; the console's <c>superseded</c> (every reason).</summary>
    public static readonly CountsCounter ItemsSuperseded = ShardCounter(
        "items_superseded",
        "items",
        "Items superseded by dedupe (or debounce), by reason.",
        "reason",
        [("pending", c => c.SupersededPending), ("merged", c => c.SupersededMerged), ("in_flight", c => c.SupersededInFlight), ("content", c => c.SupersededContent), ("stale_retry", c => c.SupersededStaleRetry), ("delayed", c => c.SupersededDelayed)],
        new("engine.items.superseded", "{item}"));

    /// <summary>Items a full mode dropped, by reason; with <see cref="ItemsRefused"/>, the console's <c>dropped</c>.</summary>
    public static readonly CountsCounter ItemsDropped = ShardCounter(
        "items_dropped",
        "items",
        "Accepted items a full mode or a rate limit dropped, by reason.",
        "reason",
        [("drop_oldest", c => c.DroppedOldest), ("drop_newest", c => c.DroppedNewest), ("drop_write", c => c.DroppedWrite), ("rate_limited", c => c.DroppedRateLimited)],
        new("engine.items.dropped", "{item}"));

    /// <summary>Items accepted by a delayed write; the console's <c>delayed</c>.</summary>
    public static readonly CountsCounter ItemsDelayed = ShardCounter("items_delayed", "items", "Items accepted by a delayed (or debounced) write.", c => c.Delayed, new("engine.items.delayed", "{item}"));

    /// <summary>Runs that requeued their item; the console's <c>requeued</c>.</summary>
    public static readonly CountsCounter ItemsRequeued = ShardCounter("items_requeued", "items", "Handler runs that requeued their item (not failures).", c => c.Requeued, new("engine.items.requeued", "{item}"));

    /// <summary>Runs that deferred their item; the console's <c>deferred</c>.</summary>
    public static readonly CountsCounter ItemsDeferred = ShardCounter("items_deferred", "items", "Handler runs that deferred their item (not charged as attempts).", c => c.Deferred, new("engine.items.deferred", "{item}"));

    /// <summary>Runs held back by the rate limit; the console's <c>limited</c>.</summary>
    public static readonly CountsCounter ItemsRateLimited = ShardCounter("items_rate_limited", "items", "Runs the rate limit held back (each wait once).", c => c.RateLimited, new("engine.items.rate_limited", "{item}"));

    /// <summary>Per shard (tags <c>pipeline</c>, <c>stage</c>, <c>shard</c>).</summary>
    public static readonly IReadOnlyList<MetricDefinition<ShardMetricsSnapshot, LiveShard>> Shard =
    [
        QueueDepth,
        ShardGauge("queue_depth_runnable", "items", "Part of the depth: items that may run once a worker and their key are free.", s => s.Counts.WaitingRunnable, new("engine.queue.depth.runnable", "{item}"), FromCounts(c => c.WaitingRunnable)),
        ShardGauge("queue_depth_delayed", "items", "Part of the depth: items waiting for their time (delay, requeue, rate limit, debounce).", s => s.Counts.WaitingDelayed, new("engine.queue.depth.delayed", "{item}"), FromCounts(c => c.WaitingDelayed)),
        ShardGauge("queue_depth_retrying", "items", "Part of the depth: items waiting for a retry's backoff or a deferral.", s => s.Counts.WaitingRetry, new("engine.queue.depth.retrying", "{item}"), FromCounts(c => c.WaitingRetry)),
        ShardGauge("queue_depth_peak", "items", "The most items the shard held at an accept during the interval.", s => s.DepthPeak),
        ShardGauge("in_flight", "items", "Items inside handlers now.", s => s.Counts.InFlight, new("engine.in_flight", "{item}"), FromCounts(c => c.InFlight)),
        ShardCounter("items_added", "items", "Items accepted.", c => c.Accepted, new("engine.items.added", "{item}")).Definition,
        ItemsRefused.Definition,
        HandlerErrors.Definition,
        Retries.Definition,
        DeadLettered.Definition,
        ShardCounter("items_abandoned", "items", "Items an abort left unprocessed.", c => c.Abandoned, new("engine.items.abandoned", "{item}")).Definition,
        ItemsSuperseded.Definition,
        ItemsDropped.Definition,
        ItemsDelayed.Definition,
        ItemsRequeued.Definition,
        ItemsDeferred.Definition,
        ItemsRateLimited.Definition,
        ShardCounter("rate_limiter_evictions", "keys", "Per-key rate limiters forgotten to stay within MaxKeysPerShard.", c => c.RateLimiterEvictions).Definition,
        MetricDefinition<ShardMetricsSnapshot, LiveShard>.Meter(
            "items_processed", "items", "Successful handler runs.", s => s.Counts.Processed, s => s.IntervalCounts.Processed, new("engine.items.processed", "{item}"), FromCounts(c => c.Processed)),
        MetricDefinition<ShardMetricsSnapshot, LiveShard>.Counter(
            "busy_time", "ms", "Time workers spent in handlers.", s => (long)s.BusyTime.TotalMilliseconds, new("engine.busy.time", "s"), new MetricObservation<LiveShard, double>(l => l.BusySeconds)),
        ShardGauge("utilization", "ratio", "Busy share of the interval over the shard's workers.", s => s.Utilization),
        ShardGauge("unfinished_work", "s", "Sum of the ages of the handler runs in progress.", s => s.UnfinishedWork.TotalSeconds),
        ShardGauge("longest_running", "s", "Age of the longest handler run in progress.", s => s.LongestRunning.TotalSeconds),
        ShardGauge("dedupe_waiting_keys", "keys", "Dedupe keys with a replaceable waiting item now.", s => s.Counts.DedupeWaitingKeys),
        ShardGauge("dedupe_tracked_keys", "keys", "Keys whose last processed content hash is remembered now.", s => s.Counts.ContentTrackedKeys),
        ShardCounter("dedupe_content_evictions", "keys", "Content hashes forgotten to stay within MaxTrackedKeys.", c => c.ContentEvictions).Definition,
        WorkDuration,
        QueueWait,
        EndToEndLatency,
        BatchSize,
    ];

    /// <summary>Items per forwarded window of a keyed window step; the meter's histogram is recorded by the window shard's loop.</summary>
    public static readonly MetricDefinition<WindowMetricsSnapshot, WindowMetricsSnapshot> WindowItems = MetricDefinition<WindowMetricsSnapshot, WindowMetricsSnapshot>.Histogram(
        "window_items", "items", "Items per window forwarded by a keyed window step.", w => w.ItemsPerWindow, new("engine.window.items", "{item}"));

    /// <summary>Close to forwarded per window; the meter's histogram is recorded by the window shard's loop.</summary>
    public static readonly MetricDefinition<WindowMetricsSnapshot, WindowMetricsSnapshot> WindowLateness = MetricDefinition<WindowMetricsSnapshot, WindowMetricsSnapshot>.Histogram(
        "window_lateness", "ms", "Time from a window's close to its forwarding.", w => w.Lateness, new("engine.window.lateness", "s"));

    /// <summary>Per shard of a keyed window step (tags <c>pipeline</c>, <c>stage</c>, <c>shard</c>), for shards that have folded an item.</summary>
    public static readonly IReadOnlyList<MetricDefinition<WindowMetricsSnapshot, WindowMetricsSnapshot>> Window =
    [
        MetricDefinition<WindowMetricsSnapshot, WindowMetricsSnapshot>.Gauge(
            "window_open", "windows", "Windows open now.", w => w.Counts.Open, new("engine.window.open", "{window}"), new MetricObservation<WindowMetricsSnapshot, long>(w => w.Counts.Open)),
        MetricDefinition<WindowMetricsSnapshot, WindowMetricsSnapshot>.Counter(
            "windows_emitted", "windows", "Windows forwarded downstream.", w => w.Counts.Emitted, new("engine.windows.emitted", "{window}"), new MetricObservation<WindowMetricsSnapshot, long>(w => w.Counts.Emitted)),
        MetricDefinition<WindowMetricsSnapshot, WindowMetricsSnapshot>.Counter(
            "window_early_flushes", "windows", "Windows closed before their time to make room for another key's.", w => w.Counts.EarlyFlushes, new("engine.window.early_flushes", "{window}"), new MetricObservation<WindowMetricsSnapshot, long>(w => w.Counts.EarlyFlushes)),
        MetricDefinition<WindowMetricsSnapshot, WindowMetricsSnapshot>.Counter(
            "window_completion_flushes", "windows", "Windows flushed because the step completed.", w => w.Counts.CompletionFlushes),
        MetricDefinition<WindowMetricsSnapshot, WindowMetricsSnapshot>.Counter(
            "window_abandoned_items", "items", "Items in windows an abort abandoned.", w => w.Counts.AbandonedItems),
        WindowItems,
        WindowLateness,
    ];

    /// <summary>Per periodic loop (tag <c>loop</c>); the meter reads each loop's <c>GetMetrics()</c>.</summary>
    public static readonly IReadOnlyList<MetricDefinition<LoopMetricsSnapshot, LoopMetricsSnapshot>> Loop =
    [
        MetricDefinition<LoopMetricsSnapshot, LoopMetricsSnapshot>.Gauge(
            "loop_running", "runs", "Whether the periodic loop is running a job now.", l => l.Running, new("engine.loop.running", "{run}"), new MetricObservation<LoopMetricsSnapshot, int>(l => l.Running)),
        MetricDefinition<LoopMetricsSnapshot, LoopMetricsSnapshot>.Counter(
            "loop_runs", "runs", "Successful runs of the periodic loop.", l => l.Runs, new("engine.loop.runs", "{run}"), new MetricObservation<LoopMetricsSnapshot, long>(l => l.Runs)),
        MetricDefinition<LoopMetricsSnapshot, LoopMetricsSnapshot>.Counter(
            "loop_failed_runs", "runs", "Runs whose job threw.", l => l.FailedRuns, new("engine.loop.failed_runs", "{run}"), new MetricObservation<LoopMetricsSnapshot, long>(l => l.FailedRuns)),
        MetricDefinition<LoopMetricsSnapshot, LoopMetricsSnapshot>.Gauge(
            "loop_run_duration", "ms", "Duration of the last finished run.", l => l.LastRunDuration.TotalMilliseconds, new("engine.loop.run.duration", "s"), new MetricObservation<LoopMetricsSnapshot, double>(l => l.LastRunDuration.TotalSeconds)),
        MetricDefinition<LoopMetricsSnapshot, LoopMetricsSnapshot>.Gauge(
            "loop_run_items", "items", "Items the last successful run handled.", l => l.LastRunItems, new("engine.loop.run.items", "{item}"), new MetricObservation<LoopMetricsSnapshot, long>(l => l.LastRunItems)),
        MetricDefinition<LoopMetricsSnapshot, LoopMetricsSnapshot>.Gauge(
            "loop_run_failed_items", "items", "Items that failed within the last successful run.", l => l.LastRunFailedItems, new("engine.loop.run.failed_items", "{item}"), new MetricObservation<LoopMetricsSnapshot, long>(l => l.LastRunFailedItems)),
        MetricDefinition<LoopMetricsSnapshot, LoopMetricsSnapshot>.Gauge(
            "loop_since_success", "s", "Time since the last successful run ended.", SecondsSinceSuccess, new("engine.loop.since_success", "s"), new MetricObservation<LoopMetricsSnapshot, double>(SecondsSinceSuccess)),
    ];

    /// <summary>Per concurrency limiter (tag <c>limiter</c>); the meter reads the live limiter, whose snapshot would close an interval.</summary>
    public static readonly IReadOnlyList<MetricDefinition<LimiterMetricsSnapshot, ILimiterMetricsSource>> Limiter =
    [
        MetricDefinition<LimiterMetricsSnapshot, ILimiterMetricsSource>.Gauge(
            "limiter_held", "slots", "Limiter slots held now.", l => l.Held, new("engine.limiter.held", "{slot}"), new MetricObservation<ILimiterMetricsSource, int>(l => l.Held)),
        MetricDefinition<LimiterMetricsSnapshot, ILimiterMetricsSource>.Gauge(
            "limiter_waiting", "callers", "Callers waiting for a limiter slot now.", l => l.Waiting, new("engine.limiter.waiting", "{caller}"), new MetricObservation<ILimiterMetricsSource, int>(l => l.WaitingCount)),
        MetricDefinition<LimiterMetricsSnapshot, ILimiterMetricsSource>.Gauge("limiter_max", "slots", "The limit.", l => l.MaxConcurrency),
        MetricDefinition<LimiterMetricsSnapshot, ILimiterMetricsSource>.Counter("limiter_acquired", "slots", "Slots granted since the limiter was made.", l => l.Acquired),
        LimiterWaitTime,
    ];

    /// <summary>Every metric of the engine's own figures: shards, window shards, loops, limiters.</summary>
    public static IEnumerable<MetricDefinition> All => [.. Shard, .. Window, .. Loop, .. Limiter];

    /// <summary>NaN before the first success: the meter publishes it, line protocol and text leave it out.</summary>
    private static double SecondsSinceSuccess(LoopMetricsSnapshot loop) => loop.SinceLastSuccess?.TotalSeconds ?? double.NaN;

    private static MetricDefinition<ShardMetricsSnapshot, LiveShard> ShardGauge(string name, string unit, string description, Func<ShardMetricsSnapshot, double> value, MetricInstrument? instrument = null, MetricObservation<LiveShard>? observation = null) =>
        MetricDefinition<ShardMetricsSnapshot, LiveShard>.Gauge(name, unit, description, value, instrument, observation);

    /// <summary>A counter of the shard's <see cref="StageCounts"/>: the report reads the snapshot's counts, the meter the live shard's.</summary>
    private static CountsCounter ShardCounter(string name, string unit, string description, Func<StageCounts, long> count, MetricInstrument? instrument = null) =>
        new(MetricDefinition<ShardMetricsSnapshot, LiveShard>.Counter(name, unit, description, s => count(s.Counts), instrument, instrument is null ? null : FromCounts(count)), [count]);

    /// <summary>As <see cref="ShardCounter(string, string, string, Func{StageCounts, long}, MetricInstrument?)"/>, one series per value of <paramref name="dimension"/>.</summary>
    private static CountsCounter ShardCounter(string name, string unit, string description, string dimension, (string Value, Func<StageCounts, long> Count)[] series, MetricInstrument instrument)
    {
        Func<StageCounts, long>[] counts = [.. series.Select(s => s.Count)];
        return new(
            MetricDefinition<ShardMetricsSnapshot, LiveShard>.Counter(
                name,
                unit,
                description,
                dimension,
                [.. series.Select(s => (s.Value, (Func<ShardMetricsSnapshot, long>)(snapshot => s.Count(snapshot.Counts))))],
                instrument,
                FromCounts(counts)),
            counts);
    }

    /// <summary>The meter reads the live shard's counts (once per shard and collection, see <see cref="LiveShard"/>).</summary>
    private static MetricObservation<LiveShard, long> FromCounts(params Func<StageCounts, long>[] read) =>
        new([.. read.Select(r => (Func<LiveShard, long>)(live => r(live.Counts)))]);
}
