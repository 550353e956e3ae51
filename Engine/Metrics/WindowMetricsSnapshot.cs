namespace Engine.Metrics;

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
}
