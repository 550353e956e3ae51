using System.Diagnostics.Metrics;

namespace Engine.Metrics;

/// <summary>
/// Publishes live stages', loops' and limiters' figures through a <see cref="Meter"/> named
/// <see cref="EngineTelemetry.MeterName"/>, with OpenTelemetry-style names and UCUM units, so
/// <c>dotnet-counters</c> and OpenTelemetry's <c>AddMeter("Engine")</c> see them with no extra code.
/// The instruments are those of <see cref="MetricCatalogue"/> that name one. Counters and gauges are
/// observable (read only when a listener collects, so an idle listener costs nothing); the latency
/// histograms are recorded where the time is measured (handler path, limiter) only while a listener
/// has enabled them, with bucket advice (<see cref="LatencyBuckets"/>).
/// </summary>
/// <remarks>
/// <para>
/// There is one instance per meter: <see cref="Default"/> on a static meter, which is what a stage
/// without a <c>MeterFactory</c> option uses, and one per <see cref="IMeterFactory"/> a host hands in
/// (<see cref="For"/>), whose meter the factory owns (and disposes with itself). A factory caches its
/// meters by name, version and tags, so making a second instance for the same factory would publish
/// every instrument twice on one meter: instances are kept per factory.
/// </para>
/// <para>
/// A stage leaves the meter when it is disposed. If a listener was collecting then, its final figures
/// stay published until every instrument that was enabled has collected them once (bounded by
/// <see cref="MaxFinalFigures"/>), so a stage disposed between two collections still shows its last counts.
/// </para>
/// </remarks>
internal sealed class EngineMeter
{
    /// <summary>The meter's name.</summary>
    public const string Name = EngineTelemetry.MeterName;

    /// <summary>The most disposed stages whose final figures wait for a collection; past it the oldest are forgotten.</summary>
    public const int MaxFinalFigures = 256;

    /// <summary>
    /// The histograms' bucket boundaries in seconds, given to exporters as advice (OpenTelemetry's
    /// default, 0 to 10,000, is meant for milliseconds: every engine latency would land in its first
    /// bucket). Roughly 1-2.5-5 steps from 1 µs to 5 minutes: handler runs and queue waits of a few
    /// microseconds, and end-to-end latencies of a pipeline that backs up for minutes, both resolve.
    /// </summary>
    public static readonly IReadOnlyList<double> LatencyBuckets =
    [
        0.000_001, 0.000_005, 0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5,
        0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
        1, 2.5, 5, 10, 30, 60, 120, 300,
    ];

    private static readonly string? Version = typeof(EngineMeter).Assembly.GetName().Version?.ToString();
    private static readonly Lock FactoriesGate = new();
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<IMeterFactory, EngineMeter> ByFactory = [];

    private readonly Lock _gate = new();
    private readonly List<WeakReference<IStageMetricsSource>> _sources = [];
    private readonly List<WeakReference<ILoopMetricsSource>> _loopSources = [];
    private readonly List<WeakReference<ILimiterMetricsSource>> _limiterSources = [];
    private readonly List<WeakReference<IWindowMetricsSource>> _windowSources = [];

    /// <summary>Disposed stages' last figures, each with the instruments that have yet to collect them. Under <see cref="_gate"/>.</summary>
    private readonly List<(FinalStageFigures Figures, HashSet<Instrument> Waiting)> _final = [];

    /// <summary>The observable instruments that read shards.</summary>
    private readonly List<Instrument> _shardInstruments = [];

    private EngineMeter(Meter meter)
    {
        Meter = meter;
        WorkDuration = Histogram(MetricCatalogue.WorkDuration);
        QueueWait = Histogram(MetricCatalogue.QueueWait);
        LimiterWait = Histogram(MetricCatalogue.LimiterWaitTime);
        EndToEnd = Histogram(MetricCatalogue.EndToEndLatency);
        WindowItems = Meter.CreateHistogram<double>(MetricCatalogue.WindowItems.Instrument!.Name, MetricCatalogue.WindowItems.Instrument.Unit, MetricCatalogue.WindowItems.Description);
        WindowLateness = Histogram(MetricCatalogue.WindowLateness);
        foreach (MetricDefinition<ShardMetricsSnapshot, LiveShard> metric in MetricCatalogue.Shard)
        {
            if (metric.Observation?.Publish(meter, metric, LiveShards) is { } instrument)
            {
                _shardInstruments.Add(instrument);
            }
        }

        foreach (MetricDefinition<WindowMetricsSnapshot, WindowMetricsSnapshot> metric in MetricCatalogue.Window)
        {
            metric.Observation?.Publish(meter, metric, _ => LiveWindows());
        }

        foreach (MetricDefinition<LoopMetricsSnapshot, LoopMetricsSnapshot> metric in MetricCatalogue.Loop)
        {
            metric.Observation?.Publish(meter, metric, _ => LiveLoops());
        }

        foreach (MetricDefinition<LimiterMetricsSnapshot, ILimiterMetricsSource> metric in MetricCatalogue.Limiter)
        {
            metric.Observation?.Publish(meter, metric, _ => LiveLimiters());
        }
    }

    /// <summary>The instance on the engine's static meter, for everything made without a meter factory.</summary>
    public static EngineMeter Default { get; } = new(new Meter(Name, Version));

    /// <summary>The meter the instruments are on.</summary>
    public Meter Meter { get; }

    /// <summary>Handler time per run.</summary>
    public Histogram<double> WorkDuration { get; }

    /// <summary>Accept to first handler start.</summary>
    public Histogram<double> QueueWait { get; }

    /// <summary>Time a caller waited for a limiter slot.</summary>
    public Histogram<double> LimiterWait { get; }

    /// <summary>Pipeline entry to settled at a sink.</summary>
    public Histogram<double> EndToEnd { get; }

    /// <summary>Items per window forwarded by a keyed window step.</summary>
    public Histogram<double> WindowItems { get; }

    /// <summary>A keyed window's close to its forwarding.</summary>
    public Histogram<double> WindowLateness { get; }

    /// <summary>
    /// The instance for <paramref name="factory"/>: its instruments are on the meter the factory makes
    /// named <see cref="Name"/>; <see cref="Default"/> when <paramref name="factory"/> is null.
    /// </summary>
    public static EngineMeter For(IMeterFactory? factory)
    {
        if (factory is null)
        {
            return Default;
        }

        lock (FactoriesGate)
        {
            if (!ByFactory.TryGetValue(factory, out EngineMeter? meter))
            {
                meter = new EngineMeter(factory.Create(new MeterOptions(Name) { Version = Version }));
                ByFactory.Add(factory, meter);
            }

            return meter;
        }
    }

    public void Register(IStageMetricsSource source) => Add(_sources, source);

    /// <summary>
    /// Takes a stage off the meter. If any of its observable instruments is being collected, the
    /// stage's figures now are kept for the next collection of each such instrument (a listener that
    /// collects every few seconds would otherwise never see what the stage did since its last one).
    /// </summary>
    public void Unregister(IStageMetricsSource source)
    {
        if (!Remove(_sources, source))
        {
            // Not on the meter (any more): a second disposal must not publish its figures twice.
            return;
        }

        HashSet<Instrument>? waiting = null;
        foreach (Instrument instrument in _shardInstruments)
        {
            if (instrument.Enabled)
            {
                (waiting ??= []).Add(instrument);
            }
        }

        if (waiting is null)
        {
            return;
        }

        var figures = new FinalStageFigures(source);
        lock (_gate)
        {
            if (_final.Count == MaxFinalFigures)
            {
                _final.RemoveAt(0);
            }

            _final.Add((figures, waiting));
        }
    }

    public void Register(IWindowMetricsSource windows) => Add(_windowSources, windows);

    public void Unregister(IWindowMetricsSource windows) => _ = Remove(_windowSources, windows);

    public void Register(ILoopMetricsSource loop) => Add(_loopSources, loop);

    public void Unregister(ILoopMetricsSource loop) => _ = Remove(_loopSources, loop);

    public void Register(ILimiterMetricsSource limiter) => Add(_limiterSources, limiter);

    public void Unregister(ILimiterMetricsSource limiter) => _ = Remove(_limiterSources, limiter);

    /// <summary>The tags of one shard: <c>pipeline</c> (when in one), <c>stage</c>, <c>shard</c>.</summary>
    public static KeyValuePair<string, object?>[] TagsFor(string? pipeline, string stage, int shard) =>
        pipeline is null
            ? [new("stage", stage), new("shard", shard)]
            : [new("pipeline", pipeline), new("stage", stage), new("shard", shard)];

    private void Add<T>(List<WeakReference<T>> list, T item)
        where T : class
    {
        lock (_gate)
        {
            list.RemoveAll(w => !w.TryGetTarget(out _));
            list.Add(new WeakReference<T>(item));
        }
    }

    /// <summary>Takes <paramref name="item"/> (and any collected entry) off <paramref name="list"/>; whether it was on it.</summary>
    private bool Remove<T>(List<WeakReference<T>> list, T item)
        where T : class
    {
        lock (_gate)
        {
            bool found = false;
            list.RemoveAll(w =>
            {
                if (!w.TryGetTarget(out T? s))
                {
                    return true;
                }

                found |= ReferenceEquals(s, item);
                return ReferenceEquals(s, item);
            });
            return found;
        }
    }

    private List<T> LiveOf<T>(List<WeakReference<T>> list)
        where T : class
    {
        lock (_gate)
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

    private Histogram<double> Histogram(MetricDefinition metric) =>
        Meter.CreateHistogram(metric.Instrument!.Name, metric.Instrument.Unit, metric.Description, tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = LatencyBuckets });

    /// <summary>
    /// Every used shard of every live stage, then of the disposed stages <paramref name="instrument"/>
    /// has not collected yet (which it now has), with their tags; one <see cref="LiveShard"/> moved from shard to shard.
    /// </summary>
    private IEnumerable<(LiveShard Live, KeyValuePair<string, object?>[] Tags)> LiveShards(Instrument? instrument)
    {
        var stages = new List<IStageMeterSource>(LiveOf(_sources));
        if (instrument is not null)
        {
            lock (_gate)
            {
                foreach ((FinalStageFigures figures, HashSet<Instrument> waiting) in _final)
                {
                    if (waiting.Remove(instrument))
                    {
                        stages.Add(figures);
                    }
                }

                _final.RemoveAll(f => f.Waiting.Count == 0);
            }
        }

        var shard = new LiveShard();
        foreach (IStageMeterSource source in stages)
        {
            for (int i = 0; i < source.ShardCount; i++)
            {
                if (!source.ShardUsed(i))
                {
                    continue;
                }

                shard.MoveTo(source, i);
                yield return (shard, TagsFor(source.PipelineName, source.Name, i));
            }
        }
    }

    private IEnumerable<(WindowMetricsSnapshot Live, KeyValuePair<string, object?>[] Tags)> LiveWindows() =>
        LiveOf(_windowSources).SelectMany(w => w.LiveWindows());

    private IEnumerable<(LoopMetricsSnapshot Live, KeyValuePair<string, object?>[] Tags)> LiveLoops()
    {
        foreach (ILoopMetricsSource loop in LiveOf(_loopSources))
        {
            yield return (loop.GetMetrics(), [new("loop", loop.Name)]);
        }
    }

    private IEnumerable<(ILimiterMetricsSource Live, KeyValuePair<string, object?>[] Tags)> LiveLimiters()
    {
        foreach (ILimiterMetricsSource limiter in LiveOf(_limiterSources))
        {
            yield return (limiter, [new("limiter", limiter.Name)]);
        }
    }
}
