using System.Diagnostics.Metrics;

namespace Engine.Metrics;

/// <summary>
/// Publishes every live stage's figures through a <see cref="Meter"/> named <c>Engine</c>, with
/// OpenTelemetry-style names and UCUM units, so <c>dotnet-counters</c> and OpenTelemetry's
/// <c>AddMeter("Engine")</c> see them with no extra code. The instruments are those of
/// <see cref="MetricCatalogue"/> that name one. Counters and gauges are observable (read only when a
/// listener collects, so an idle listener costs nothing); the latency histograms are recorded where the
/// time is measured (handler path, limiter) only while a listener has enabled them.
/// </summary>
internal static class EngineMeter
{
    public const string Name = "Engine";

    private static readonly Lock Gate = new();
    private static readonly List<WeakReference<IStageMetricsSource>> Sources = [];
    private static readonly List<WeakReference<ILoopMetricsSource>> LoopSources = [];
    private static readonly List<WeakReference<ILimiterMetricsSource>> LimiterSources = [];
    private static readonly Meter Meter = new(Name, typeof(EngineMeter).Assembly.GetName().Version?.ToString());

    /// <summary>Handler time per run.</summary>
    public static readonly Histogram<double> WorkDuration = Histogram(MetricCatalogue.WorkDuration);

    /// <summary>Accept to first handler start.</summary>
    public static readonly Histogram<double> QueueWait = Histogram(MetricCatalogue.QueueWait);

    /// <summary>Time a caller waited for a limiter slot.</summary>
    public static readonly Histogram<double> LimiterWait = Histogram(MetricCatalogue.LimiterWaitTime);

    /// <summary>Pipeline entry to settled at a sink.</summary>
    public static readonly Histogram<double> EndToEnd = Histogram(MetricCatalogue.EndToEndLatency);

    static EngineMeter()
    {
        foreach (MetricDefinition<ShardMetricsSnapshot, LiveShard> metric in MetricCatalogue.Shard)
        {
            metric.Observation?.Publish(Meter, metric, LiveShards);
        }

        foreach (MetricDefinition<LoopMetricsSnapshot, LoopMetricsSnapshot> metric in MetricCatalogue.Loop)
        {
            metric.Observation?.Publish(Meter, metric, LiveLoops);
        }

        foreach (MetricDefinition<LimiterMetricsSnapshot, ILimiterMetricsSource> metric in MetricCatalogue.Limiter)
        {
            metric.Observation?.Publish(Meter, metric, LiveLimiters);
        }
    }

    public static void Register(IStageMetricsSource source) => Add(Sources, source);

    public static void Unregister(IStageMetricsSource source) => Remove(Sources, source);

    public static void Register(ILoopMetricsSource loop) => Add(LoopSources, loop);

    public static void Unregister(ILoopMetricsSource loop) => Remove(LoopSources, loop);

    public static void Register(ILimiterMetricsSource limiter) => Add(LimiterSources, limiter);

    public static void Unregister(ILimiterMetricsSource limiter) => Remove(LimiterSources, limiter);

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

    private static List<T> LiveOf<T>(List<WeakReference<T>> list)
        where T : class
    {
        lock (Gate)
        {
            var live = new List<T>(list.Count);
            foreach (WeakReference<T> weak in list)
            {
                if (weak.TryGetTarget(out T? item))
                {
                    live.Add(item);
                }
            }

            return live;
        }
    }

    /// <summary>The tags of one shard: <c>pipeline</c> (when in one), <c>stage</c>, <c>shard</c>.</summary>
    public static KeyValuePair<string, object?>[] TagsFor(string? pipeline, string stage, int shard) =>
        pipeline is null
            ? [new("stage", stage), new("shard", shard)]
            : [new("pipeline", pipeline), new("stage", stage), new("shard", shard)];

    private static Histogram<double> Histogram(MetricDefinition metric) =>
        Meter.CreateHistogram<double>(metric.Instrument!.Name, metric.Instrument.Unit, metric.Description);

    /// <summary>Every shard of every live stage, with its tags; one <see cref="LiveShard"/> moved from shard to shard.</summary>
    private static IEnumerable<(LiveShard Live, KeyValuePair<string, object?>[] Tags)> LiveShards()
    {
        var shard = new LiveShard();
        foreach (IStageMetricsSource source in LiveOf(Sources))
        {
            for (int i = 0; i < source.ShardCount; i++)
            {
                shard.MoveTo(source, i);
                yield return (shard, TagsFor(source.PipelineName, source.Name, i));
            }
        }
    }

    private static IEnumerable<(LoopMetricsSnapshot Live, KeyValuePair<string, object?>[] Tags)> LiveLoops()
    {
        foreach (ILoopMetricsSource loop in LiveOf(LoopSources))
        {
            yield return (loop.GetMetrics(), [new("loop", loop.Name)]);
        }
    }

    private static IEnumerable<(ILimiterMetricsSource Live, KeyValuePair<string, object?>[] Tags)> LiveLimiters()
    {
        foreach (ILimiterMetricsSource limiter in LiveOf(LimiterSources))
        {
            yield return (limiter, [new("limiter", limiter.Name)]);
        }
    }
}
