using System.Globalization;

namespace Engine.Nats.Member;

/// <summary>The member program's command line: <c>--name value</c> pairs, with defaults.</summary>
internal sealed class MemberArguments
{
    private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);

    public MemberArguments(string[] args)
    {
        for (int i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal))
            {
                throw new ArgumentException($"Unexpected argument '{args[i]}'.");
            }

            string name = args[i][2..];
            bool hasValue = i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal);
            _values[name] = hasValue ? args[++i] : "true";
        }
    }

    public string Text(string name, string fallback) => _values.TryGetValue(name, out string? v) ? v : fallback;

    public long Number(string name, long fallback) => _values.TryGetValue(name, out string? v) ? long.Parse(v, CultureInfo.InvariantCulture) : fallback;

    public bool Flag(string name) => _values.TryGetValue(name, out string? v) && v == "true";
}
