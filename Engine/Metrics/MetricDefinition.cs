using System.Diagnostics;

namespace Engine.Metrics;

/// <summary>
/// One metric of the catalogue, whatever it is read from: its name in App.Metrics' layout, its kind
/// and unit there, the dimension that splits it into series, its description, and the instrument the
/// <c>Engine</c> meter publishes it as (if any). <see cref="MetricDefinition{TSnapshot, TLive}"/> adds
/// how it is read.
/// </summary>
[DebuggerDisplay("{Name} ({Kind}, {Unit})")]
internal abstract class MetricDefinition
{
    private protected MetricDefinition(string name, MetricKind kind, string unit, string description, MetricInstrument? instrument, string? dimension, IReadOnlyList<string> dimensionValues)
    {
        Debug.Assert(dimension is null ? dimensionValues.Count == 0 : dimensionValues.Count > 0, "a dimension has values, and only a dimension has");
        Name = name;
        Kind = kind;
        Unit = unit;
        Description = description;
        Instrument = instrument;
        Dimension = dimension;
        DimensionValues = dimensionValues;
    }

    /// <summary>The App.Metrics name in the <c>engine</c> context (<c>queue_depth</c>): <c>engine__queue_depth</c> in line protocol, <c>[engine] queue_depth</c> in text.</summary>
    public string Name { get; }

    /// <summary>The App.Metrics type; also decides the instrument's type.</summary>
    public MetricKind Kind { get; }

    /// <summary>App.Metrics' <c>unit</c> tag (<c>items</c>, <c>ms</c>).</summary>
    public string Unit { get; }

    /// <summary>One sentence: what is counted or measured. The meter publishes it as the instrument's description.</summary>
    public string Description { get; }

    /// <summary>The instrument on the <c>Engine</c> meter, or null when the meter does not publish this metric.</summary>
    public MetricInstrument? Instrument { get; }

    /// <summary>The tag that splits the metric into one series per value (<c>reason</c>), or null.</summary>
    public string? Dimension { get; }

    /// <summary>The values of <see cref="Dimension"/>, in the order the series are written; empty without one.</summary>
    public IReadOnlyList<string> DimensionValues { get; }

    /// <summary>The InfluxDB measurement App.Metrics' reporter writes: <c>engine__{name}</c>.</summary>
    public string Measurement => MetricCatalogue.Context + "__" + Name;
}
