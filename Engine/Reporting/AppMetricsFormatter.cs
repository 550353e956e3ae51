using Engine.Limiters;
using Engine.Loops;
using Engine.Metrics;

namespace Engine.Reporting;

/// <summary>
/// Turns stage snapshots into points in App.Metrics' layout, so dashboards built for App.Metrics work
/// unchanged. Which points, with which names, units and values, comes from <see cref="MetricCatalogue"/>
/// and <see cref="ReporterMetricCatalogue"/>, plus the points contributed sources wrote (<see cref="MetricPoint"/>,
/// their own names and tags, laid out the same way); the layout is this type's: context <c>engine</c> (the writer names the measurement: <c>engine__{name}</c> in line
/// protocol, <c>[engine] {name}</c> in text); tags: the metric's own (<c>pipeline</c>, <c>stage</c>,
/// <c>shard</c>, then <c>reason</c>), the global <c>app</c>, <c>env</c>, <c>server</c>, then <c>mtype</c>
/// and <c>unit</c> (timers add <c>unit_dur</c> and <c>unit_rate</c>, meters <c>unit_rate</c>); fields
/// per metric type: counter <c>value</c> (integer); gauge <c>value</c> (float); meter <c>count.meter</c>
/// (integer), <c>rate1m</c>, <c>rate5m</c>, <c>rate15m</c>, <c>rate.mean</c> (per <see cref="RateUnit"/>);
/// timer the meter fields then <c>samples</c> (integer), <c>last</c>, <c>count.hist</c> (integer),
/// <c>sum</c>, <c>min</c>, <c>max</c>, <c>mean</c>, <c>median</c>, <c>stddev</c>, <c>p999</c>, <c>p99</c>,
/// <c>p98</c>, <c>p95</c>, <c>p75</c> (milliseconds); histogram (a keyed window's items and lateness,
/// <c>mtype=histogram</c>) the timer's fields without the meter's, in its own unit. Points go out in
/// App.Metrics' order of metric types (gauges, counters, meters, histograms, timers), each type in the order written. One formatter per
/// reporter: it keeps every meter's and timer's running state (see <see cref="SeriesState"/>).
/// </summary>
internal sealed class AppMetricsFormatter
{
    /// <summary>App.Metrics' reservoir size (1,028 samples): a timer's <c>samples</c> never exceeds it.</summary>
    public const int ReservoirSize = 1028;

    private const string Context = MetricCatalogue.Context;
    private readonly Dictionary<string, SeriesState> _series = new(StringComparer.Ordinal);
    private readonly List<Point> _points = [];
    private readonly double _perUnit;
    private readonly string _rateTag;
    private GlobalTags _global;

    /// <summary>A formatter; <paramref name="global"/> tags the points of <see cref="Write(IPointWriter, StageMetricsSnapshot, long)"/> (a report brings its own).</summary>
    public AppMetricsFormatter(GlobalTags? global = null, RateUnit rateUnit = RateUnit.Minutes)
    {
        _global = global ?? GlobalTags.Default();
        _perUnit = MeterRates.PerUnit(rateUnit);
        _rateTag = MeterRates.Tag(rateUnit);
    }

    /// <summary>Nanoseconds since the Unix epoch, the precision every point is written with.</summary>
    public static long Nanoseconds(DateTimeOffset timestamp) => (timestamp.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) * 100;

    /// <summary>Writes every figure of a report: stages, loops, limiters, contributed sources' points, the sources' and reporters' self-metrics, all with the report's timestamp.</summary>
    public void Write(IPointWriter writer, MetricsReport report)
    {
        long ts = Nanoseconds(report.Timestamp);
        _global = report.Tags;
        foreach (StageMetricsSnapshot stage in report.AllStages)
        {
            Collect(stage, ts);
        }

        foreach (LoopMetricsSnapshot loop in report.Loops)
        {
            Collect(MetricCatalogue.Loop, loop, [new("loop", loop.Loop)], TimeSpan.Zero, ts);
        }

        foreach (LimiterMetricsSnapshot limiter in report.Limiters)
        {
            Collect(MetricCatalogue.Limiter, limiter, [new("limiter", limiter.Limiter)], report.Interval, ts);
        }

        foreach (SourceMetricsSnapshot source in report.Sources)
        {
            foreach (MetricPoint point in source.Points)
            {
                // default(MetricPoint) has no name: nothing to write.
                if (point.Name is null)
                {
                    continue;
                }

                if (point.Kind == MetricPointKind.Counter)
                {
                    Counter(point.Name, point.Tags, point.Count, point.Unit, ts);
                }
                else
                {
                    Gauge(point.Name, point.Tags, point.Value, point.Unit, ts);
                }
            }
        }

        foreach (SourceMetricsSnapshot source in report.Sources)
        {
            Collect(ReporterMetricCatalogue.Source, source, [new("source", source.Source)], TimeSpan.Zero, ts);
        }

        foreach (ReporterStatus status in report.Reporters)
        {
            List<KeyValuePair<string, string?>> own = [new("reporter", status.Reporter)];
            Collect(ReporterMetricCatalogue.Status, status, own, TimeSpan.Zero, ts);
            if (status.Delivery is { } delivery)
            {
                Collect(ReporterMetricCatalogue.Delivery, delivery, own, TimeSpan.Zero, ts);
            }
        }

        Flush(writer);
    }

    /// <summary>Writes every figure of every shard of <paramref name="stage"/>.</summary>
    public void Write(IPointWriter writer, StageMetricsSnapshot stage, long timestampNanoseconds)
    {
        Collect(stage, timestampNanoseconds);
        Flush(writer);
    }

    private void Collect(StageMetricsSnapshot stage, long timestampNanoseconds)
    {
        foreach (ShardMetricsSnapshot shard in stage.Shards)
        {
            Collect(MetricCatalogue.Shard, shard, ShardTags(stage, shard.Shard), shard.Interval, timestampNanoseconds);
        }

        foreach (WindowMetricsSnapshot windows in stage.Windows)
        {
            Collect(MetricCatalogue.Window, windows, ShardTags(stage, windows.Shard), stage.Interval, timestampNanoseconds);
        }
    }

    /// <summary>A shard's own tags: <c>pipeline</c>, <c>stage</c>, <c>shard</c>.</summary>
    private static List<KeyValuePair<string, string?>> ShardTags(StageMetricsSnapshot stage, int shard) =>
    [
        new("pipeline", stage.Pipeline),
        new("stage", stage.Stage),
        new("shard", shard.ToString(System.Globalization.CultureInfo.InvariantCulture)),
    ];

    /// <summary>Adds a point per metric (per series, for a metric with a dimension) of <paramref name="owner"/>, tagged <paramref name="own"/>.</summary>
    private void Collect<TSnapshot, TLive>(IReadOnlyList<MetricDefinition<TSnapshot, TLive>> metrics, TSnapshot owner, List<KeyValuePair<string, string?>> own, TimeSpan interval, long ts)
    {
        foreach (MetricDefinition<TSnapshot, TLive> metric in metrics)
        {
            switch (metric.Kind)
            {
                case MetricKind.Gauge:
                    Gauge(metric.Name, own, metric.Value(owner), metric.Unit, ts);
                    break;
                case MetricKind.Counter when metric.Dimension is { } dimension:
                    for (int i = 0; i < metric.DimensionValues.Count; i++)
                    {
                        Counter(metric.Name, [.. own, new(dimension, metric.DimensionValues[i])], metric.Count(owner, i), metric.Unit, ts);
                    }

                    break;
                case MetricKind.Counter:
                    Counter(metric.Name, own, metric.Count(owner), metric.Unit, ts);
                    break;
                case MetricKind.Meter:
                    Meter(metric.Name, own, metric.Count(owner), metric.IntervalCount(owner), metric.Unit, interval, ts);
                    break;
                case MetricKind.Histogram:
                    if (metric.Summary(owner) is { } distribution)
                    {
                        Histogram(metric.Name, own, distribution, metric.Unit, interval, ts);
                    }

                    break;
                case MetricKind.Timer:
                    if (metric.Summary(owner) is { } summary)
                    {
                        Timer(metric.Name, own, summary, metric.Unit, interval, ts);
                    }

                    break;
            }
        }
    }

    /// <summary>The measurement App.Metrics' InfluxDB reporter writes by default: <c>{context}__{name}</c>, lower-cased, spaces as underscores, dots kept.</summary>
    public static string Measurement(string name) => Measurement(Context, name);

    /// <summary>As <see cref="Measurement(string)"/> for any context.</summary>
    public static string Measurement(string context, string name) => (context + "__" + name).ToLowerInvariant().Replace(' ', '_');

    /// <summary>Writes the collected points in App.Metrics' order of metric types and forgets them.</summary>
    private void Flush(IPointWriter writer)
    {
        for (MetricKind kind = MetricKind.Gauge; kind <= MetricKind.Timer; kind++)
        {
            foreach (Point point in _points)
            {
                if (point.Kind == kind)
                {
                    writer.Write(writer.Measurement(Context, point.Name), point.Tags, point.Fields, point.Timestamp);
                }
            }
        }

        _points.Clear();
    }

    private void Counter(string name, IReadOnlyList<KeyValuePair<string, string?>> own, long value, string unit, long ts) =>
        _points.Add(new Point(MetricKind.Counter, name, Tags(own, "counter", unit), [new("value", value)], ts));

    private void Gauge(string name, IReadOnlyList<KeyValuePair<string, string?>> own, double value, string unit, long ts) =>
        _points.Add(new Point(MetricKind.Gauge, name, Tags(own, "gauge", unit), [new("value", value)], ts));

    private void Meter(string name, List<KeyValuePair<string, string?>> own, long count, long intervalCount, string unit, TimeSpan interval, long ts)
    {
        MeterRates rates = StateOf(name, own).Rates;
        rates.Update(intervalCount, interval);
        _points.Add(new Point(MetricKind.Meter, name, Tags(own, "meter", unit, rateUnit: _rateTag), MeterFields(count, rates), ts));
    }

    private void Timer(string name, List<KeyValuePair<string, string?>> own, LatencySummary summary, string unit, TimeSpan interval, long ts)
    {
        SeriesState state = StateOf(name, own);
        state.Add(summary, interval);
        List<KeyValuePair<string, object>> fields = MeterFields(state.Rates.Count, state.Rates);
        fields.AddRange(HistogramFields(state, summary));
        _points.Add(new Point(MetricKind.Timer, name, Tags(own, "timer", unit, durationUnit: "ms", rateUnit: _rateTag), fields, ts));
    }

    /// <summary>A histogram point: App.Metrics' histogram fields (a timer's without the meter's), in <paramref name="unit"/>.</summary>
    private void Histogram(string name, List<KeyValuePair<string, string?>> own, LatencySummary summary, string unit, TimeSpan interval, long ts)
    {
        SeriesState state = StateOf(name, own);
        state.Add(summary, interval);
        _points.Add(new Point(MetricKind.Histogram, name, Tags(own, "histogram", unit), HistogramFields(state, summary), ts));
    }

    private static List<KeyValuePair<string, object>> HistogramFields(SeriesState state, LatencySummary summary) =>
        [
            new("samples", Math.Min(state.Count, ReservoirSize)),
            new("last", state.LastMilliseconds),
            new("count.hist", state.Count),
            new("sum", state.SumMilliseconds),
            new("min", summary.MinMilliseconds),
            new("max", summary.MaxMilliseconds),
            new("mean", summary.MeanMilliseconds),
            new("median", summary.P50),
            new("stddev", summary.StdDevMilliseconds),
            new("p999", summary.P999),
            new("p99", summary.P99),
            new("p98", summary.P98),
            new("p95", summary.P95),
            new("p75", summary.P75),
        ];

    private List<KeyValuePair<string, object>> MeterFields(long count, MeterRates rates) =>
    [
        new("count.meter", count),
        new("rate1m", rates.OneMinute * _perUnit),
        new("rate5m", rates.FiveMinutes * _perUnit),
        new("rate15m", rates.FifteenMinutes * _perUnit),
        new("rate.mean", rates.Mean * _perUnit),
    ];

    private SeriesState StateOf(string name, List<KeyValuePair<string, string?>> own)
    {
        string series = name + "\u001f" + string.Join("\u001f", own.Select(t => t.Value));
        if (!_series.TryGetValue(series, out SeriesState? state))
        {
            state = new SeriesState();
            _series[series] = state;
        }

        return state;
    }

    private List<KeyValuePair<string, string?>> Tags(IReadOnlyList<KeyValuePair<string, string?>> own, string type, string unit, string? durationUnit = null, string? rateUnit = null)
    {
        List<KeyValuePair<string, string?>> tags = [.. own, new("app", _global.App), new("env", _global.Env), new("server", _global.Server), new("mtype", type), new("unit", unit)];
        if (durationUnit is not null)
        {
            tags.Add(new("unit_dur", durationUnit));
        }

        if (rateUnit is not null)
        {
            tags.Add(new("unit_rate", rateUnit));
        }

        return tags;
    }

    private readonly record struct Point(MetricKind Kind, string Name, List<KeyValuePair<string, string?>> Tags, List<KeyValuePair<string, object>> Fields, long Timestamp);

    /// <summary>
    /// What App.Metrics keeps for one meter or timer between reports and a report's interval does not
    /// carry: the meter rates, and a timer's cumulative count and sum (App.Metrics' <c>count.hist</c>
    /// and <c>sum</c> never reset) and its last value, which stays until a newer one is recorded.
    /// </summary>
    private sealed class SeriesState
    {
        public MeterRates Rates { get; } = new();

        public long Count { get; private set; }

        public double SumMilliseconds { get; private set; }

        public double LastMilliseconds { get; private set; }

        /// <summary>Adds a timer's interval.</summary>
        public void Add(LatencySummary interval, TimeSpan length)
        {
            Rates.Update(interval.Count, length);
            Count += interval.Count;
            SumMilliseconds += interval.SumMilliseconds;
            if (interval.Count > 0)
            {
                LastMilliseconds = interval.LastMilliseconds;
            }
        }
    }
}
