using System.Diagnostics;

namespace Engine.Metrics;

/// <summary>
/// A metric of the catalogue and how it is read: from <typeparamref name="TSnapshot"/> by the
/// App.Metrics formatter (once per report), and, when the meter publishes it, from
/// <typeparamref name="TLive"/> by the <c>Engine</c> meter (once per collection). Nothing here runs
/// where figures are recorded. Made by <c>Gauge</c>, <c>Counter</c>, <c>Meter</c>
/// and <c>Timer</c>, which set the readers the kind needs.
/// </summary>
/// <typeparam name="TSnapshot">What a report holds for one series owner: a shard's, loop's or limiter's snapshot.</typeparam>
/// <typeparam name="TLive">What the meter reads at a collection (the snapshot type again where the meter does not publish the metric).</typeparam>
internal sealed class MetricDefinition<TSnapshot, TLive> : MetricDefinition
{
    private readonly Func<TSnapshot, double>? _value;
    private readonly Func<TSnapshot, long>[] _counts;
    private readonly Func<TSnapshot, long>? _intervalCount;
    private readonly Func<TSnapshot, LatencySummary?>? _summary;

    private MetricDefinition(
        string name,
        MetricKind kind,
        string unit,
        string description,
        MetricInstrument? instrument,
        MetricObservation<TLive>? observation,
        string? dimension = null,
        IReadOnlyList<string>? dimensionValues = null,
        Func<TSnapshot, double>? value = null,
        Func<TSnapshot, long>[]? counts = null,
        Func<TSnapshot, long>? intervalCount = null,
        Func<TSnapshot, LatencySummary?>? summary = null)
        : base(name, kind, unit, description, instrument, dimension, dimensionValues ?? [])
    {
        Debug.Assert(observation is null || instrument is not null, "only an instrument is observed");
        Debug.Assert((observation is null) == (instrument is null || kind is MetricKind.Timer or MetricKind.Histogram), "every instrument but a histogram is observed");
        Observation = observation;
        _value = value;
        _counts = counts ?? [];
        _intervalCount = intervalCount;
        _summary = summary;
    }

    /// <summary>How the meter reads the metric at a collection; null when it publishes none, or records a histogram where the time is measured.</summary>
    public MetricObservation<TLive>? Observation { get; }

    /// <summary>A gauge: <paramref name="value"/> is its value in <paramref name="unit"/>.</summary>
    public static MetricDefinition<TSnapshot, TLive> Gauge(string name, string unit, string description, Func<TSnapshot, double> value, MetricInstrument? instrument = null, MetricObservation<TLive>? observation = null) =>
        new(name, MetricKind.Gauge, unit, description, instrument, observation, value: value);

    /// <summary>A counter: <paramref name="count"/> is its cumulative count in <paramref name="unit"/>.</summary>
    public static MetricDefinition<TSnapshot, TLive> Counter(string name, string unit, string description, Func<TSnapshot, long> count, MetricInstrument? instrument = null, MetricObservation<TLive>? observation = null) =>
        new(name, MetricKind.Counter, unit, description, instrument, observation, counts: [count]);

    /// <summary>A counter split by <paramref name="dimension"/>: one series per value, each with its own count, in the order given.</summary>
    public static MetricDefinition<TSnapshot, TLive> Counter(string name, string unit, string description, string dimension, (string Value, Func<TSnapshot, long> Count)[] series, MetricInstrument? instrument = null, MetricObservation<TLive>? observation = null) =>
        new(name, MetricKind.Counter, unit, description, instrument, observation, dimension, [.. series.Select(s => s.Value)], counts: [.. series.Select(s => s.Count)]);

    /// <summary>A meter: <paramref name="count"/> is the cumulative count, <paramref name="intervalCount"/> the interval's, which move the rates.</summary>
    public static MetricDefinition<TSnapshot, TLive> Meter(string name, string unit, string description, Func<TSnapshot, long> count, Func<TSnapshot, long> intervalCount, MetricInstrument? instrument = null, MetricObservation<TLive>? observation = null) =>
        new(name, MetricKind.Meter, unit, description, instrument, observation, counts: [count], intervalCount: intervalCount);

    /// <summary>A timer: <paramref name="summary"/> is the interval's distribution, or null when the owner has none (then nothing is written).</summary>
    public static MetricDefinition<TSnapshot, TLive> Timer(string name, string unit, string description, Func<TSnapshot, LatencySummary?> summary, MetricInstrument? instrument = null) =>
        new(name, MetricKind.Timer, unit, description, instrument, observation: null, summary: summary);

    /// <summary>A histogram: <paramref name="summary"/> is the interval's distribution in <paramref name="unit"/>, or null when the owner has none (then nothing is written).</summary>
    public static MetricDefinition<TSnapshot, TLive> Histogram(string name, string unit, string description, Func<TSnapshot, LatencySummary?> summary, MetricInstrument? instrument = null) =>
        new(name, MetricKind.Histogram, unit, description, instrument, observation: null, summary: summary);

    /// <summary>A gauge's value.</summary>
    public double Value(TSnapshot snapshot)
    {
        Debug.Assert(_value is not null, $"{Name} is a {Kind}, not a gauge");
        return _value(snapshot);
    }

    /// <summary>A counter's or meter's cumulative count; for a counter with a dimension, that of the series of <see cref="MetricDefinition.DimensionValues"/>[<paramref name="series"/>].</summary>
    public long Count(TSnapshot snapshot, int series = 0) => _counts[series](snapshot);

    /// <summary>A meter's count within the interval.</summary>
    public long IntervalCount(TSnapshot snapshot)
    {
        Debug.Assert(_intervalCount is not null, $"{Name} is a {Kind}, not a meter");
        return _intervalCount(snapshot);
    }

    /// <summary>A timer's distribution over the interval, or null when there is none to write.</summary>
    public LatencySummary? Summary(TSnapshot snapshot)
    {
        Debug.Assert(_summary is not null, $"{Name} is a {Kind}, not a timer or histogram");
        return _summary(snapshot);
    }
}
