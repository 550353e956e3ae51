using System.Globalization;

namespace Engine.Nats;

/// <summary>
/// The part of the options that must be identical across members and writers, because it shapes the
/// streams or the routing. Stored once in the config bucket as <see cref="Describe"/>'s text.
/// </summary>
internal sealed record NatsStageLayout(int Partitions, bool LatestPerKey, long MaxMessagesPerPartition)
{
    public const string Key = "layout";

    public string Describe() => string.Create(
        CultureInfo.InvariantCulture,
        $"partitions={Partitions};latest-per-key={(LatestPerKey ? "true" : "false")};max-messages-per-partition={MaxMessagesPerPartition}");

    /// <summary>The partition count in a stored layout (<see cref="Describe"/>'s text).</summary>
    /// <exception cref="FormatException">The text has no readable partition count.</exception>
    public static int PartitionsOf(string stored)
    {
        foreach (string field in stored.Split(';', StringSplitOptions.RemoveEmptyEntries))
        {
            string[] pair = field.Split('=', 2);
            if (pair.Length == 2 && pair[0] == "partitions" && int.TryParse(pair[1], NumberStyles.None, CultureInfo.InvariantCulture, out int partitions) && partitions > 0)
            {
                return partitions;
            }
        }

        throw new FormatException($"The stored layout '{stored}' has no partition count.");
    }

    /// <summary>The fields in which <paramref name="stored"/> differs from this layout, named as options; empty when equal.</summary>
    public IReadOnlyList<string> Differences(string stored)
    {
        var fields = stored.Split(';', StringSplitOptions.RemoveEmptyEntries)
            .Select(f => f.Split('=', 2))
            .Where(f => f.Length == 2)
            .ToDictionary(f => f[0], f => f[1], StringComparer.Ordinal);
        var mine = Describe().Split(';').Select(f => f.Split('=', 2)).ToList();
        var differences = new List<string>();
        foreach (string[] field in mine)
        {
            string theirs = fields.TryGetValue(field[0], out string? value) ? value : "(missing)";
            if (!string.Equals(theirs, field[1], StringComparison.Ordinal))
            {
                differences.Add($"{field[0]} is {field[1]} here but {theirs} in the stage's stored layout");
            }
        }

        return differences;
    }
}
