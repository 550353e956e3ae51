using Engine.Metrics;

namespace Engine.Reporting;

/// <summary>
/// A keyed window step's line in the console view, under its stage's row: its window counts over every
/// shard, and the interval's mean and largest window and worst shard's lateness (the shards'
/// distributions are not merged: these say enough on one line).
/// </summary>
public sealed record WindowLine
{
    /// <summary>The step.</summary>
    public required string Stage { get; init; }

    /// <summary>The window counts over every shard (cumulative; <see cref="WindowCounts.Open"/> is now).</summary>
    public WindowCounts Counts { get; init; }

    /// <summary>Items per window forwarded in the interval, on average (0 without any).</summary>
    public double MeanItems { get; init; }

    /// <summary>The most items in one window forwarded in the interval.</summary>
    public double LargestWindow { get; init; }

    /// <summary>The largest shard's 99th percentile lateness over the interval, milliseconds.</summary>
    public double LatenessP99 { get; init; }

    /// <summary>The line of <paramref name="stage"/>, or null when it is not a keyed window step (or has folded nothing yet).</summary>
    /// <param name="stage">A stage's snapshot.</param>
    /// <returns>Its window line, or null.</returns>
    public static WindowLine? From(StageMetricsSnapshot stage)
    {
        ArgumentNullException.ThrowIfNull(stage);
        if (stage.Windows.Count == 0)
        {
            return null;
        }

        WindowCounts counts = default;
        long windows = 0;
        double items = 0;
        foreach (WindowMetricsSnapshot shard in stage.Windows)
        {
            counts += shard.Counts;
            windows += shard.ItemsPerWindow.Count;
            items += shard.ItemsPerWindow.SumMilliseconds;
        }

        return new WindowLine
        {
            Stage = stage.Stage,
            Counts = counts,
            MeanItems = windows == 0 ? 0 : items / windows,
            LargestWindow = stage.Windows.Max(w => w.ItemsPerWindow.MaxMilliseconds),
            LatenessP99 = stage.Windows.Max(w => w.Lateness.P99),
        };
    }
}
