namespace Engine.Metrics;

/// <summary>
/// What a metric is, in App.Metrics' terms (the <c>mtype</c> tag). The order is the order App.Metrics
/// writes a context's metrics in. On the <c>Engine</c> meter a gauge is an observable gauge, a counter
/// and a meter are observable counters, and a timer is a histogram recorded where the time is measured.
/// </summary>
internal enum MetricKind
{
    /// <summary>A value as of the read: field <c>value</c> (float).</summary>
    Gauge,

    /// <summary>A cumulative count: field <c>value</c> (integer).</summary>
    Counter,

    /// <summary>A cumulative count with App.Metrics' moving rates.</summary>
    Meter,

    /// <summary>A distribution of values (items, or a time in milliseconds) without rates.</summary>
    Histogram,

    /// <summary>A latency distribution with a meter's rates.</summary>
    Timer,
}
