
namespace Engine.Metrics;

/// <summary>One shard's figures for one interval (since the previous snapshot of its stage), immutable.</summary>
public sealed record ShardMetricsSnapshot
{
    /// <summary>The shard: 0 to <c>Shards</c> − 1 keyed, <c>Shards</c> the unkeyed one.</summary>
    public int Shard { get; init; }

    /// <summary>Cumulative counts since the stage started.</summary>
    public StageCounts Counts { get; init; }

    /// <summary>Counts within the interval (gauges such as <see cref="StageCounts.Waiting"/> are as of the snapshot).</summary>
    public StageCounts IntervalCounts { get; init; }

    /// <summary>How long the interval was.</summary>
    public TimeSpan Interval { get; init; }

    /// <summary>Successful handler runs per second over the interval.</summary>
    public double ProcessedPerSecond => Interval > TimeSpan.Zero ? IntervalCounts.Processed / Interval.TotalSeconds : 0;

    /// <summary>Items waiting now (channel, parked, ready, retrying).</summary>
    public long Depth { get; init; }

    /// <summary>The most items the shard held (waiting or in a handler) at any accept during the interval.</summary>
    public long DepthPeak { get; init; }

    /// <summary>Cumulative time workers spent in handlers, including the running part of unfinished runs.</summary>
    public TimeSpan BusyTime { get; init; }

    /// <summary>Busy share of the interval, over all the shard's workers: 0 idle, 1 every worker busy throughout.</summary>
    public double Utilization { get; init; }

    /// <summary>Sum of the ages of the handler runs in progress.</summary>
    public TimeSpan UnfinishedWork { get; init; }

    /// <summary>Age of the longest handler run in progress.</summary>
    public TimeSpan LongestRunning { get; init; }

    /// <summary>Handler time per run, over the interval.</summary>
    public LatencySummary WorkDuration { get; init; } = LatencySummary.Empty;

    /// <summary>Time from accept to the first handler start, over the interval.</summary>
    public LatencySummary QueueWait { get; init; } = LatencySummary.Empty;

    /// <summary>Pipeline entry to settled here (only in a pipeline's sink stages; null elsewhere).</summary>
    public LatencySummary? EndToEnd { get; init; }

    /// <summary>
    /// Items per batch emitted within the interval (only in a batch node's shard; null elsewhere). The
    /// summary's fields carry item counts where their names say milliseconds, as
    /// <see cref="WindowMetricsSnapshot.ItemsPerWindow"/>'s do.
    /// </summary>
    public LatencySummary? BatchSize { get; init; }
}
