namespace Engine.Reporting;

/// <summary>
/// One figure an <see cref="IMetricsSource"/> contributes to a report: a gauge or a counter with its
/// own tags, written by every reporter in App.Metrics' layout beside the engine's points (measurement
/// <c>engine__{name}</c> in line protocol, <c>[engine] {name}</c> in text; the point's tags, then the
/// global <c>app</c>, <c>env</c>, <c>server</c>, then <c>mtype</c> and <c>unit</c>). Make one with
/// <see cref="Gauge"/> or <see cref="Counter"/>, which validate it; a value type, so a source's points
/// cost no allocation of their own (tags can be one list shared by many points).
/// </summary>
public readonly record struct MetricPoint
{
    /// <summary>Tag keys App.Metrics' layout writes itself; a point may not carry them.</summary>
    private static readonly string[] ReservedTags = ["app", "env", "server", "mtype", "unit", "unit_dur", "unit_rate"];

    private static readonly HashSet<string> EngineNames = new(Metrics.MetricCatalogue.All.Concat(ReporterMetricCatalogue.All).Select(m => m.Name), StringComparer.Ordinal);

    private MetricPoint(MetricPointKind kind, string name, string unit, double value, long count, IReadOnlyList<KeyValuePair<string, string?>> tags)
    {
        Kind = kind;
        Name = name;
        Unit = unit;
        Value = value;
        Count = count;
        Tags = tags;
    }

    /// <summary>Gauge or counter.</summary>
    public MetricPointKind Kind { get; }

    /// <summary>The metric's name within the <c>engine</c> context (<c>nats_partition_pending</c>); null only for <c>default</c>, which reporters skip.</summary>
    public string Name { get; }

    /// <summary>What it counts, App.Metrics' <c>unit</c> tag (<c>messages</c>, <c>s</c>).</summary>
    public string Unit { get; }

    /// <summary>A gauge's value (NaN or infinite: reporters write no point); for a counter, <see cref="Count"/> as a double.</summary>
    public double Value { get; }

    /// <summary>A counter's cumulative count; 0 for a gauge.</summary>
    public long Count { get; }

    /// <summary>The point's own tags in the order to write them; an empty or null value is left out of the point.</summary>
    public IReadOnlyList<KeyValuePair<string, string?>> Tags { get; }

    /// <summary>A gauge point.</summary>
    /// <param name="name">The metric's name: not empty, and not one of the engine's own (see docs/metrics.md).</param>
    /// <param name="unit">App.Metrics' <c>unit</c> tag: not empty.</param>
    /// <param name="value">The value now.</param>
    /// <param name="tags">The point's own tags (null for none): keys not empty, unique, and none of <c>app</c>, <c>env</c>, <c>server</c>, <c>mtype</c>, <c>unit</c>, <c>unit_dur</c>, <c>unit_rate</c>. Kept, not copied: do not change the list afterwards.</param>
    /// <returns>The point.</returns>
    /// <exception cref="ArgumentException">The name, unit or a tag key breaks the rules above; the message says which.</exception>
    public static MetricPoint Gauge(string name, string unit, double value, IReadOnlyList<KeyValuePair<string, string?>>? tags = null) =>
        new(MetricPointKind.Gauge, Validate(name, unit, tags), unit, value, 0, tags ?? []);

    /// <summary>A counter point.</summary>
    /// <param name="name">The metric's name: as for <see cref="Gauge"/>.</param>
    /// <param name="unit">App.Metrics' <c>unit</c> tag: not empty.</param>
    /// <param name="count">The cumulative count.</param>
    /// <param name="tags">The point's own tags: as for <see cref="Gauge"/>.</param>
    /// <returns>The point.</returns>
    /// <exception cref="ArgumentException">The name, unit or a tag key breaks the rules of <see cref="Gauge"/>; the message says which.</exception>
    public static MetricPoint Counter(string name, string unit, long count, IReadOnlyList<KeyValuePair<string, string?>>? tags = null) =>
        new(MetricPointKind.Counter, Validate(name, unit, tags), unit, count, count, tags ?? []);

    private static string Validate(string name, string unit, IReadOnlyList<KeyValuePair<string, string?>>? tags)
    {
        if (string.IsNullOrWhiteSpace(name))
        {
            throw new ArgumentException("MetricPoint: the name may not be empty.", nameof(name));
        }

        // A contributed point with an engine metric's name would land in that metric's series and
        // corrupt it (and its documentation in docs/metrics.md).
        if (EngineNames.Contains(name))
        {
            throw new ArgumentException($"MetricPoint: '{name}' is one of the engine's own metrics; a source must use names of its own (prefix them with the package, as nats_ does).", nameof(name));
        }

        if (string.IsNullOrWhiteSpace(unit))
        {
            throw new ArgumentException($"MetricPoint '{name}': the unit may not be empty.", nameof(unit));
        }

        if (tags is null)
        {
            return name;
        }

        for (int i = 0; i < tags.Count; i++)
        {
            string key = tags[i].Key;
            if (string.IsNullOrWhiteSpace(key))
            {
                throw new ArgumentException($"MetricPoint '{name}': tag {i} has an empty key.", nameof(tags));
            }

            // The layout writes these itself; a duplicate key makes a line InfluxDB rejects or misreads.
            if (Array.IndexOf(ReservedTags, key) >= 0)
            {
                throw new ArgumentException($"MetricPoint '{name}': tag '{key}' is written by the reporters themselves ({string.Join(", ", ReservedTags)}).", nameof(tags));
            }

            for (int j = 0; j < i; j++)
            {
                if (tags[j].Key == key)
                {
                    throw new ArgumentException($"MetricPoint '{name}': tag '{key}' appears twice.", nameof(tags));
                }
            }
        }

        return name;
    }
}
