namespace Engine.Reporting;

/// <summary>
/// Where an <see cref="IMetricsSource"/> writes its points for one report. Not thread-safe: one call
/// of <see cref="IMetricsSource.WritePoints"/> uses it, and it must not be kept after that call.
/// </summary>
public sealed class MetricPointWriter
{
    private readonly List<MetricPoint> _points;

    internal MetricPointWriter(List<MetricPoint> points) => _points = points;

    /// <summary>How many points have been written so far in this call.</summary>
    public int Count => _points.Count;

    /// <summary>Writes a point made with <see cref="MetricPoint.Gauge"/> or <see cref="MetricPoint.Counter"/>.</summary>
    /// <param name="point">The point; <c>default</c> is ignored.</param>
    public void Write(MetricPoint point)
    {
        if (point.Name is not null)
        {
            _points.Add(point);
        }
    }

    /// <summary>Writes a gauge point (see <see cref="MetricPoint.Gauge"/>).</summary>
    /// <param name="name">The metric's name.</param>
    /// <param name="unit">App.Metrics' <c>unit</c> tag.</param>
    /// <param name="value">The value now.</param>
    /// <param name="tags">The point's own tags; a list may be shared by many points.</param>
    /// <exception cref="ArgumentException">As <see cref="MetricPoint.Gauge"/>.</exception>
    public void Gauge(string name, string unit, double value, IReadOnlyList<KeyValuePair<string, string?>>? tags = null) =>
        _points.Add(MetricPoint.Gauge(name, unit, value, tags));

    /// <summary>Writes a counter point (see <see cref="MetricPoint.Counter"/>).</summary>
    /// <param name="name">The metric's name.</param>
    /// <param name="unit">App.Metrics' <c>unit</c> tag.</param>
    /// <param name="count">The cumulative count.</param>
    /// <param name="tags">The point's own tags; a list may be shared by many points.</param>
    /// <exception cref="ArgumentException">As <see cref="MetricPoint.Counter"/>.</exception>
    public void Counter(string name, string unit, long count, IReadOnlyList<KeyValuePair<string, string?>>? tags = null) =>
        _points.Add(MetricPoint.Counter(name, unit, count, tags));
}
