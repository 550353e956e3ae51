using System.Globalization;
using System.Text;

namespace Engine.Reporting;

/// <summary>
/// Writes points in App.Metrics' plain-text format: per point a <c># TIMESTAMP:</c> line (.NET ticks),
/// <c># MEASUREMENT:</c>, <c># TAGS:</c> and <c># FIELDS:</c> sections with one right-aligned
/// <c>key = value</c> line each, and a dashed separator. Empty tags and NaN/infinite fields are left out as in line protocol.
/// </summary>
internal sealed class AppMetricsTextWriter : IPointWriter
{
    private const int Padding = 20;
    private readonly StringBuilder _text;

    public AppMetricsTextWriter(StringBuilder text) => _text = text;

    public bool Write(string measurement, IReadOnlyList<KeyValuePair<string, string?>> tags, IReadOnlyList<KeyValuePair<string, object>> fields, long timestampNanoseconds)
    {
        var kept = fields.Where(f => f.Value is not double d || double.IsFinite(d)).ToList();
        if (kept.Count == 0)
        {
            return false;
        }

        long ticks = DateTimeOffset.UnixEpoch.UtcTicks + (timestampNanoseconds / 100);
        _text.Append("# TIMESTAMP: ").Append(ticks.ToString(CultureInfo.InvariantCulture)).Append('\n');
        _text.Append("# MEASUREMENT: ").Append(measurement).Append('\n');
        _text.Append("# TAGS:\n");
        foreach (KeyValuePair<string, string?> tag in tags)
        {
            if (!string.IsNullOrEmpty(tag.Value))
            {
                Line(tag.Key, tag.Value);
            }
        }

        _text.Append("# FIELDS:\n");
        foreach (KeyValuePair<string, object> field in kept)
        {
            Line(field.Key, Format(field.Value));
        }

        _text.Append("--------------------------------------------------------------\n");
        return true;
    }

    private void Line(string key, string value) => _text.Append(key.PadLeft(Padding)).Append(" = ").Append(value).Append('\n');

    private static string Format(object value) => value switch
    {
        double d => d.ToString("0.00###", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? string.Empty,
    };
}
