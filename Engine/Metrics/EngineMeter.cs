using System.Diagnostics.Metrics;

namespace Engine.Metrics;

/// <summary>
/// Publishes every live stage's figures through a <see cref="Meter"/> named <c>Engine</c>, with
/// OpenTelemetry-style names and UCUM units, so <c>dotnet-counters</c> and OpenTelemetry's
/// <c>AddMeter("Engine")</c> see them with no extra code. Counters and gauges are observable (read
/// only when a listener collects, so an idle listener costs nothing); the three latency histograms
/// are recorded on the handler path only while a listener has enabled them.
/// </summary>
internal static class EngineMeter
{
    public const string Name = "Engine";

    private static readonly Lock Gate = new();
    private static readonly List<WeakReference<IStageMetricsSource>> Sources = [];
    private static readonly List<WeakReference<Loops.PeriodicLoop>> LoopSources = [];
    private static readonly List<WeakReference<Limiters.ConcurrencyLimiter>> LimiterSources = [];
    private static readonly Meter Meter = new(Name, typeof(EngineMeter).Assembly.GetName().Version?.ToString());

    /// <summary>Handler time per run.</summary>
    public static readonly Histogram<double> WorkDuration = Meter.CreateHistogram<double>("engine.work.duration", "s", "Handler time per run.");

    /// <summary>Accept to first handler start.</summary>
    public static readonly Histogram<double> QueueWait = Meter.CreateHistogram<double>("engine.queue.wait", "s", "Time from accept to the first handler start.");

    /// <summary>Time a caller waited for a limiter slot.</summary>
    public static readonly Histogram<double> LimiterWait = Meter.CreateHistogram<double>("engine.limiter.wait", "s", "Time callers waited for a concurrency limiter slot.");

    /// <summary>Pipeline entry to settled at a sink.</summary>
    public static readonly Histogram<double> EndToEnd = Meter.CreateHistogram<double>("engine.end_to_end.latency", "s", "Time from pipeline entry to settled at the last stage.");

    static EngineMeter()
    {
        Counter("engine.items.added", "Items accepted.", c => c.Accepted);
        Counter("engine.items.processed", "Successful handler runs.", c => c.Processed);
        Counter("engine.items.dead_lettered", "Items that failed permanently.", c => c.DeadLettered);
        Counter("engine.items.abandoned", "Items an abort left unprocessed.", c => c.Abandoned);
        Counter("engine.items.refused", "Writes turned away without accepting the item.", c => c.Refused);
        Counter("engine.handler.errors", "Exceptions thrown by handlers.", c => c.HandlerErrors);
        Counter("engine.retries", "Retries scheduled.", c => c.Retries);
        Meter.CreateObservableCounter("engine.items.superseded", () => Observe(static (source, shard, tags) =>
        {
            var c = source.GetShardCounts(shard);
            return
            [
                new Measurement<long>(c.SupersededPending, With(tags, "reason", "pending")),
                new Measurement<long>(c.SupersededMerged, With(tags, "reason", "merged")),
                new Measurement<long>(c.SupersededInFlight, With(tags, "reason", "in_flight")),
                new Measurement<long>(c.SupersededContent, With(tags, "reason", "content")),
                new Measurement<long>(c.SupersededStaleRetry, With(tags, "reason", "stale_retry")),
            ];
        }), "{item}", "Items superseded by dedupe, by reason.");
        Meter.CreateObservableCounter("engine.items.dropped", () => Observe(static (source, shard, tags) =>
        {
            var c = source.GetShardCounts(shard);
            return
            [
                new Measurement<long>(c.DroppedOldest, With(tags, "reason", "drop_oldest")),
                new Measurement<long>(c.DroppedNewest, With(tags, "reason", "drop_newest")),
                new Measurement<long>(c.DroppedWrite, With(tags, "reason", "drop_write")),
            ];
        }), "{item}", "Accepted items a full mode dropped, by reason.");
        Meter.CreateObservableGauge("engine.queue.depth", () => Observe(static (source, shard, tags) => [new Measurement<long>(source.GetShardCounts(shard).Waiting, tags)]), "{item}", "Items waiting in the shard now.");
        Meter.CreateObservableGauge("engine.in_flight", () => Observe(static (source, shard, tags) => [new Measurement<long>(source.GetShardCounts(shard).InFlight, tags)]), "{item}", "Items inside handlers now.");
        Meter.CreateObservableGauge("engine.loop.running", () => Each(LoopSources, l => new Measurement<int>(l.GetMetrics().Running, new KeyValuePair<string, object?>("loop", l.Name))), "{run}", "Whether the periodic loop is running a job now.");
        Meter.CreateObservableCounter("engine.loop.runs", () => Each(LoopSources, l => new Measurement<long>(l.GetMetrics().Runs, new KeyValuePair<string, object?>("loop", l.Name))), "{run}", "Successful runs of the periodic loop.");
        Meter.CreateObservableCounter("engine.loop.failed_runs", () => Each(LoopSources, l => new Measurement<long>(l.GetMetrics().FailedRuns, new KeyValuePair<string, object?>("loop", l.Name))), "{run}", "Runs whose job threw.");
        Meter.CreateObservableGauge("engine.loop.run.duration", () => Each(LoopSources, l => new Measurement<double>(l.GetMetrics().LastRunDuration.TotalSeconds, new KeyValuePair<string, object?>("loop", l.Name))), "s", "Duration of the last finished run.");
        Meter.CreateObservableGauge("engine.loop.run.items", () => Each(LoopSources, l => new Measurement<long>(l.GetMetrics().LastRunItems, new KeyValuePair<string, object?>("loop", l.Name))), "{item}", "Items the last successful run handled.");
        Meter.CreateObservableGauge("engine.loop.run.failed_items", () => Each(LoopSources, l => new Measurement<long>(l.GetMetrics().LastRunFailedItems, new KeyValuePair<string, object?>("loop", l.Name))), "{item}", "Items that failed within the last successful run.");
        Meter.CreateObservableGauge("engine.loop.since_success", () => Each(LoopSources, l => new Measurement<double>(l.GetMetrics().SinceLastSuccess?.TotalSeconds ?? double.NaN, new KeyValuePair<string, object?>("loop", l.Name))), "s", "Time since the last successful run ended.");
        Meter.CreateObservableGauge("engine.limiter.held", () => Each(LimiterSources, l => new Measurement<int>(l.Held, new KeyValuePair<string, object?>("limiter", l.Name))), "{slot}", "Limiter slots held now.");
        Meter.CreateObservableGauge("engine.limiter.waiting", () => Each(LimiterSources, l => new Measurement<int>(l.WaitingCount, new KeyValuePair<string, object?>("limiter", l.Name))), "{caller}", "Callers waiting for a limiter slot now.");
        Meter.CreateObservableCounter("engine.busy.time", () => ObserveDouble(static (source, shard, tags) => new Measurement<double>(source.ShardBusySeconds(shard), tags)), "s", "Time workers spent in handlers.");
    }

    public static void Register(IStageMetricsSource source)
    {
        lock (Gate)
        {
            Sources.RemoveAll(w => !w.TryGetTarget(out _));
            Sources.Add(new WeakReference<IStageMetricsSource>(source));
        }
    }

    public static void Register(Loops.PeriodicLoop loop) => Add(LoopSources, loop);

    public static void Unregister(Loops.PeriodicLoop loop) => Remove(LoopSources, loop);

    public static void Register(Limiters.ConcurrencyLimiter limiter) => Add(LimiterSources, limiter);

    public static void Unregister(Limiters.ConcurrencyLimiter limiter) => Remove(LimiterSources, limiter);

    private static void Add<T>(List<WeakReference<T>> list, T item)
        where T : class
    {
        lock (Gate)
        {
            list.RemoveAll(w => !w.TryGetTarget(out _));
            list.Add(new WeakReference<T>(item));
        }
    }

    private static void Remove<T>(List<WeakReference<T>> list, T item)
        where T : class
    {
        lock (Gate)
        {
            list.RemoveAll(w => !w.TryGetTarget(out T? s) || ReferenceEquals(s, item));
        }
    }

    private static List<Measurement<TValue>> Each<T, TValue>(List<WeakReference<T>> list, Func<T, Measurement<TValue>> read)
        where T : class
        where TValue : struct
    {
        List<T> live;
        lock (Gate)
        {
            live = [.. list.Select(w => w.TryGetTarget(out T? t) ? t : null).OfType<T>()];
        }

        return [.. live.Select(read)];
    }

    public static void Unregister(IStageMetricsSource source)
    {
        lock (Gate)
        {
            Sources.RemoveAll(w => !w.TryGetTarget(out IStageMetricsSource? s) || ReferenceEquals(s, source));
        }
    }

    /// <summary>The tags of one shard: <c>pipeline</c> (when in one), <c>stage</c>, <c>shard</c>.</summary>
    public static KeyValuePair<string, object?>[] TagsFor(string? pipeline, string stage, int shard) =>
        pipeline is null
            ? [new("stage", stage), new("shard", shard)]
            : [new("pipeline", pipeline), new("stage", stage), new("shard", shard)];

    private static void Counter(string name, string description, Func<StageCounts, long> read) =>
        Meter.CreateObservableCounter(name, () => Observe((source, shard, tags) => [new Measurement<long>(read(source.GetShardCounts(shard)), tags)]), "{item}", description);

    private static List<Measurement<long>> Observe(Func<IStageMetricsSource, int, KeyValuePair<string, object?>[], Measurement<long>[]> read)
    {
        var measurements = new List<Measurement<long>>();
        foreach (IStageMetricsSource source in Live())
        {
            for (int shard = 0; shard < source.ShardCount; shard++)
            {
                measurements.AddRange(read(source, shard, TagsFor(source.PipelineName, source.Name, shard)));
            }
        }

        return measurements;
    }

    private static List<Measurement<double>> ObserveDouble(Func<IStageMetricsSource, int, KeyValuePair<string, object?>[], Measurement<double>> read)
    {
        var measurements = new List<Measurement<double>>();
        foreach (IStageMetricsSource source in Live())
        {
            for (int shard = 0; shard < source.ShardCount; shard++)
            {
                measurements.Add(read(source, shard, TagsFor(source.PipelineName, source.Name, shard)));
            }
        }

        return measurements;
    }

    private static List<IStageMetricsSource> Live()
    {
        lock (Gate)
        {
            var live = new List<IStageMetricsSource>(Sources.Count);
            foreach (WeakReference<IStageMetricsSource> weak in Sources)
            {
                if (weak.TryGetTarget(out IStageMetricsSource? source))
                {
                    live.Add(source);
                }
            }

            return live;
        }
    }

    private static KeyValuePair<string, object?>[] With(KeyValuePair<string, object?>[] tags, string key, string value) => [.. tags, new(key, value)];
}
