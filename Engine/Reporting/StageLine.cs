using Engine.Metrics;

namespace Engine.Reporting;

/// <summary>
/// One stage's row in the console view: throughput over the interval, depth now, utilisation and
/// latencies over the interval, and cumulative error, retry, dead-letter, supersede and drop counts:
/// the stage's totals of the catalogue's counters of those names (<see cref="MetricCatalogue"/>), over
/// every reason, so a reason added there is counted here.
/// </summary>
public sealed record StageLine
{
    /// <summary>The pipeline, or null for a stage used alone.</summary>
    public string? Pipeline { get; init; }

    /// <summary>The stage.</summary>
    public required string Stage { get; init; }

    /// <summary>Successful handler runs per second over the interval.</summary>
    public double ItemsPerSecond { get; init; }

    /// <summary>Items waiting now over all shards.</summary>
    public long Depth { get; init; }

    /// <summary>Items waiting now in the deepest shard.</summary>
    public long MaxShardDepth { get; init; }

    /// <summary>Busy share of the interval over all workers (0 to 1).</summary>
    public double Utilization { get; init; }

    /// <summary>Median handler time over the interval, milliseconds.</summary>
    public double WorkP50 { get; init; }

    /// <summary>99th percentile handler time over the interval, milliseconds.</summary>
    public double WorkP99 { get; init; }

    /// <summary>Median end-to-end latency over the interval (sink stages only; null elsewhere), milliseconds.</summary>
    public double? EndToEndP50 { get; init; }

    /// <summary>99th percentile end-to-end latency over the interval (sink stages only; null elsewhere), milliseconds.</summary>
    public double? EndToEndP99 { get; init; }

    /// <summary>Exceptions thrown by handlers, cumulative (<c>handler_errors</c> over the stage).</summary>
    public long Errors { get; init; }

    /// <summary>Retries scheduled, cumulative (<c>retries</c> over the stage).</summary>
    public long Retries { get; init; }

    /// <summary>Items dead-lettered, cumulative (<c>dead_lettered</c> over the stage).</summary>
    public long DeadLettered { get; init; }

    /// <summary>Items superseded by dedupe (every reason), cumulative (<c>items_superseded</c> over the stage).</summary>
    public long Superseded { get; init; }

    /// <summary>Items dropped by a full mode, plus writes refused, cumulative (<c>items_dropped</c> and <c>items_refused</c> over the stage).</summary>
    public long Dropped { get; init; }

    /// <summary>The row for a stage snapshot.</summary>
    /// <param name="stage">The snapshot.</param>
    /// <returns>The row.</returns>
    public static StageLine From(StageMetricsSnapshot stage)
    {
        ArgumentNullException.ThrowIfNull(stage);
        return new StageLine
        {
            Pipeline = stage.Pipeline,
            Stage = stage.Stage,
            ItemsPerSecond = stage.ProcessedPerSecond,
            Depth = stage.Depth,
            MaxShardDepth = stage.MaxShardDepth,
            Utilization = stage.Utilization,
            WorkP50 = stage.WorkDuration.P50,
            WorkP99 = stage.WorkDuration.P99,
            EndToEndP50 = stage.EndToEnd?.P50,
            EndToEndP99 = stage.EndToEnd?.P99,
            Errors = MetricCatalogue.HandlerErrors.Total(stage.Counts),
            Retries = MetricCatalogue.Retries.Total(stage.Counts),
            DeadLettered = MetricCatalogue.DeadLettered.Total(stage.Counts),
            Superseded = MetricCatalogue.ItemsSuperseded.Total(stage.Counts),
            Dropped = MetricCatalogue.ItemsDropped.Total(stage.Counts) + MetricCatalogue.ItemsRefused.Total(stage.Counts),
        };
    }
}
