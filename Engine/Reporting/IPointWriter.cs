namespace Engine.Reporting;

/// <summary>Where formatted points go: InfluxDB line protocol or App.Metrics' text format.</summary>
internal interface IPointWriter
{
    /// <summary>The measurement App.Metrics' writer for this format names a metric: it differs between line protocol and text.</summary>
    /// <param name="context">The metric's context (<c>engine</c>).</param>
    /// <param name="name">The metric's name (<c>queue_depth</c>).</param>
    /// <returns>The measurement.</returns>
    string Measurement(string context, string name);

    /// <summary>Writes one point.</summary>
    /// <param name="measurement">The measurement name.</param>
    /// <param name="tags">Tags in the order to write them; empty values are left out.</param>
    /// <param name="fields">Fields: <see cref="long"/> (integer), <see cref="double"/> (float), <see cref="string"/> or <see cref="bool"/>.</param>
    /// <param name="timestampNanoseconds">The point's timestamp in nanoseconds since the Unix epoch.</param>
    /// <returns>Whether the point was written (false when no field could be).</returns>
    bool Write(string measurement, IReadOnlyList<KeyValuePair<string, string?>> tags, IReadOnlyList<KeyValuePair<string, object>> fields, long timestampNanoseconds);
}
