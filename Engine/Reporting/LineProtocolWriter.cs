using System.Globalization;
using System.Text;

namespace Engine.Reporting;

/// <summary>
/// Writes points in InfluxDB's line protocol, escaping strictly: in measurements commas and spaces;
/// in tag keys, tag values and field keys commas, equals signs and spaces; in string field values
/// double quotes and backslashes. A trailing backslash in a name or tag is dropped and newlines
/// become spaces (1.x cannot carry either there). Tags with an empty value (or one made only of backslashes) are left out; float fields that are NaN
/// or infinite are skipped (the protocol has no way to write them), and a point left with no field
/// is not written at all. Integers carry the <c>i</c> suffix; floats use the invariant round-trip format.
/// </summary>
internal sealed class LineProtocolWriter : IPointWriter
{
    private readonly StringBuilder _text = new();
    private readonly List<(string Key, object Value)> _fields = [];
    private int _points;

    /// <summary>Points written so far.</summary>
    public int Points => _points;

    /// <summary>The text written so far, one point per line, each ending with a newline.</summary>
    public override string ToString() => _text.ToString();

    /// <summary>Clears the text, keeping the buffer.</summary>
    public void Clear()
    {
        _text.Clear();
        _points = 0;
    }

    /// <summary>App.Metrics' InfluxDB reporter's default: <c>{context}__{name}</c>, lower-cased, spaces as underscores.</summary>
    public string Measurement(string context, string name) => AppMetricsFormatter.Measurement(context, name);

    /// <summary>Writes one point.</summary>
    /// <param name="measurement">The measurement name.</param>
    /// <param name="tags">Tags in the order to write them; empty values are left out.</param>
    /// <param name="fields">Fields: <see cref="long"/> (integer), <see cref="double"/> (float), <see cref="string"/> or <see cref="bool"/>.</param>
    /// <param name="timestampNanoseconds">The point's timestamp in nanoseconds since the Unix epoch.</param>
    /// <returns>Whether the point was written (false when no field could be).</returns>
    public bool Write(string measurement, IReadOnlyList<KeyValuePair<string, string?>> tags, IReadOnlyList<KeyValuePair<string, object>> fields, long timestampNanoseconds)
    {
        _fields.Clear();
        foreach (KeyValuePair<string, object> field in fields)
        {
            if (field.Value is double d && (double.IsNaN(d) || double.IsInfinity(d)))
            {
                continue;
            }

            _fields.Add((field.Key, field.Value));
        }

        // Escape drops trailing backslashes: a name or tag made only of them would be written empty,
        // which InfluxDB rejects (with every other point of the request that fails to parse).
        if (_fields.Count == 0 || Unwritable(measurement))
        {
            return false;
        }

        Escape(_text, measurement, measurement: true);
        foreach (KeyValuePair<string, string?> tag in tags)
        {
            if (Unwritable(tag.Value) || Unwritable(tag.Key))
            {
                continue;
            }

            _text.Append(',');
            Escape(_text, tag.Key, measurement: false);
            _text.Append('=');
            Escape(_text, tag.Value, measurement: false);
        }

        for (int i = 0; i < _fields.Count; i++)
        {
            _text.Append(i == 0 ? ' ' : ',');
            Escape(_text, _fields[i].Key, measurement: false);
            _text.Append('=');
            AppendValue(_text, _fields[i].Value);
        }

        _text.Append(' ').Append(timestampNanoseconds.ToString(CultureInfo.InvariantCulture)).Append('\n');
        _points++;
        return true;
    }

    /// <summary>Whether <paramref name="value"/> would be written empty (null, empty, or only backslashes).</summary>
    private static bool Unwritable([System.Diagnostics.CodeAnalysis.NotNullWhen(false)] string? value) => string.IsNullOrEmpty(value) || value.AsSpan().TrimEnd('\\').IsEmpty;

    private static void AppendValue(StringBuilder text, object value)
    {
        switch (value)
        {
            case long l:
                text.Append(l.ToString(CultureInfo.InvariantCulture)).Append('i');
                break;
            case int n:
                text.Append(n.ToString(CultureInfo.InvariantCulture)).Append('i');
                break;
            case double d:
                text.Append(d.ToString("R", CultureInfo.InvariantCulture));
                break;
            case bool b:
                text.Append(b ? "true" : "false");
                break;
            case string s:
                text.Append('"');
                foreach (char original in s)
                {
                    // InfluxDB 1.x does not support newlines in field values either.
                    char c = original is '\n' or '\r' ? ' ' : original;
                    if (c is '"' or '\\')
                    {
                        text.Append('\\');
                    }

                    text.Append(c);
                }

                text.Append('"');
                break;
            default:
                throw new ArgumentException($"Line protocol fields are long, double, string or bool, not {value.GetType().Name}.", nameof(value));
        }
    }

    private static void Escape(StringBuilder text, string value, bool measurement)
    {
        // InfluxDB 1.x reads a backslash before the separator that follows a name or tag value as
        // escaping it, and has no way to write one there: a trailing backslash is dropped.
        int length = value.Length;
        while (length > 0 && value[length - 1] == '\\')
        {
            length--;
        }

        for (int i = 0; i < length; i++)
        {
            // A newline would end the point and the protocol cannot escape one in names or tags:
            // it is written as an (escaped) space.
            char c = value[i] is '\n' or '\r' ? ' ' : value[i];
            if (c is ',' or ' ' || (!measurement && c == '='))
            {
                text.Append('\\');
            }

            text.Append(c);
        }
    }
}
