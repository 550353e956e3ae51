using Engine.Metrics;

namespace Engine.Windows;

/// <summary>One shard's window figures for one interval of a keyed window step, immutable (see <see cref="StageMetricsSnapshot.Windows"/>).</summary>
public sealed record WindowMetricsSnapshot
{
    /// <summary>The shard: 0 to <c>Shards</c> − 1 keyed, <c>Shards</c> the unkeyed one.</summary>
    public int Shard { get; init; }

    /// <summary>The shard's window accounting now (cumulative; <see cref="WindowCounts.Open"/> is the open-windows gauge).</summary>
    public WindowCounts Counts { get; init; }

    /// <summary>
    /// Items per window forwarded in the interval. The summary's fields carry item counts where their
    /// names say milliseconds (<c>P50</c> is the median window's items), so it reads like every other
    /// distribution of the engine.
    /// </summary>
    public LatencySummary ItemsPerWindow { get; init; } = LatencySummary.Empty;

    /// <summary>For each window forwarded in the interval, the time from its close (its boundary, or the moment it was flushed or filled) to its forwarding.</summary>
    public LatencySummary Lateness { get; init; } = LatencySummary.Empty;

    /// <summary>Closes the consumer's interval of a shard's window histograms.</summary>
    internal static WindowMetricsSnapshot Take<T, TAcc>(int shard, WindowCounts counts, WindowShard<T, TAcc> source, HistogramCursor items, HistogramCursor lateness, HistogramInterval scratch)
    {
        source.ItemsPerWindow.Take(items, scratch);
        LatencySummary sizes = LatencySummary.From(scratch);
        source.Lateness.Take(lateness, scratch);
        return new WindowMetricsSnapshot
        {
            Shard = shard,
            Counts = counts,

            // The histogram holds items where it would hold microseconds; a summary reads them as thousandths.
            ItemsPerWindow = sizes with
            {
                SumMilliseconds = sizes.SumMilliseconds * 1000,
                MinMilliseconds = sizes.MinMilliseconds * 1000,
                MaxMilliseconds = sizes.MaxMilliseconds * 1000,
                LastMilliseconds = sizes.LastMilliseconds * 1000,
                MeanMilliseconds = sizes.MeanMilliseconds * 1000,
                StdDevMilliseconds = sizes.StdDevMilliseconds * 1000,
                P50 = sizes.P50 * 1000,
                P75 = sizes.P75 * 1000,
                P95 = sizes.P95 * 1000,
                P98 = sizes.P98 * 1000,
                P99 = sizes.P99 * 1000,
                P999 = sizes.P999 * 1000,
            },
            Lateness = LatencySummary.From(scratch),
        };
    }
}
