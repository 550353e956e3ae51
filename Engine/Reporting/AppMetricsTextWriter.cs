using System.Globalization;
using System.Text;

namespace Engine.Reporting;

/// <summary>
/// Writes points exactly as App.Metrics' plain-text formatter (<c>MetricsTextOutputFormatter</c> with
/// its default options) does: per point <c># TIMESTAMP: </c> and the timestamp in .NET ticks,
/// <c># MEASUREMENT: [context] name</c>, <c># TAGS:</c> and one line per tag only when the point has
/// tags, <c># FIELDS:</c> and one line per field, then 62 dashes; every line ends with <c>\n</c>. A
/// tag or field line is the key and the value around <c> = </c>, the key right-aligned so the
/// separator stands in column 24 (padding 25) unless the key is too long for it; integers and floats
/// use the invariant culture (floats the shortest text that reads back as the same double), booleans
/// <c>true</c>/<c>false</c>. The text is ASCII: any other character is written as <c>?</c>, as
/// App.Metrics' ASCII encoding does.
/// </summary>
/// <remarks>
/// Two deliberate differences, both where App.Metrics' output would be unreadable: a newline in a name
/// or tag is written as a space (App.Metrics writes it raw and breaks the layout), and tags with an
/// empty value, NaN or infinite fields and points left without a field are left out, as in line
/// protocol.
/// </remarks>
internal sealed class AppMetricsTextWriter : IPointWriter
{
    /// <summary>App.Metrics' <c>MetricsTextFormatterConstants.OutputFormatting.Padding</c>.</summary>
    public const int Padding = 25;

    /// <summary>App.Metrics' <c>MetricsTextFormatterConstants.OutputFormatting.Separator</c>.</summary>
    public const char Separator = '=';

    private const string Rule = "--------------------------------------------------------------";
    private readonly StringBuilder _text;

    public AppMetricsTextWriter(StringBuilder text) => _text = text;

    /// <summary>App.Metrics' text formatter's default: <c>[context] name</c>, or the name alone without a context.</summary>
    public string Measurement(string context, string name) => string.IsNullOrWhiteSpace(context) ? name : $"[{context}] {name}";

    public bool Write(string measurement, IReadOnlyList<KeyValuePair<string, string?>> tags, IReadOnlyList<KeyValuePair<string, object>> fields, long timestampNanoseconds)
    {
        var kept = fields.Where(f => f.Value is not double d || double.IsFinite(d)).ToList();
        if (kept.Count == 0 || string.IsNullOrEmpty(measurement))
        {
            return false;
        }

        long ticks = DateTimeOffset.UnixEpoch.UtcTicks + (timestampNanoseconds / 100);
        _text.Append("# TIMESTAMP: ").Append(ticks.ToString(CultureInfo.InvariantCulture)).Append('\n');
        _text.Append("# MEASUREMENT: ").Append(Text(measurement)).Append('\n');
        var shown = tags.Where(t => !string.IsNullOrEmpty(t.Value) && !string.IsNullOrEmpty(t.Key)).ToList();
        if (shown.Count > 0)
        {
            _text.Append("# TAGS:\n");
            foreach (KeyValuePair<string, string?> tag in shown)
            {
                Line(Text(tag.Key), Text(tag.Value!));
            }
        }

        _text.Append("# FIELDS:\n");
        foreach (KeyValuePair<string, object> field in kept)
        {
            Line(Text(field.Key), Format(field.Value));
        }

        _text.Append(Rule).Append('\n');
        return true;
    }

    /// <summary>
    /// App.Metrics' readable line: left padding of 25 − key length − 1 − separator length spaces, only
    /// when key length + 2 + separator length is below 25 (so a 22-character key gets none).
    /// </summary>
    private void Line(string key, string value)
    {
        if (key.Length + 3 < Padding)
        {
            _text.Append(' ', Padding - key.Length - 2);
        }

        _text.Append(key).Append(' ').Append(Separator).Append(' ').Append(value).Append('\n');
    }

    private static string Format(object value) => value switch
    {
        bool b => b ? "true" : "false",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => Text(value.ToString() ?? string.Empty),
    };

    /// <summary>The text as App.Metrics' ASCII encoding writes it (other characters become <c>?</c>), newlines as spaces.</summary>
    private static string Text(string value)
    {
        string oneLine = value.Replace('\r', ' ').Replace('\n', ' ');
        return Encoding.ASCII.GetString(Encoding.ASCII.GetBytes(oneLine));
    }
}
