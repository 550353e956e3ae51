
namespace Engine.Metrics;

/// <summary>
/// A stage's figures for one interval, per shard and summed, immutable. Taking one closes the interval
/// (the next starts then); it copies counters and histogram buckets and never blocks recording.
/// </summary>
public sealed record StageMetricsSnapshot
{
    /// <summary>The pipeline the stage belongs to, or null for a stage used alone.</summary>
    public string? Pipeline { get; init; }

    /// <summary>The stage.</summary>
    public required string Stage { get; init; }

    /// <summary>When the snapshot was taken, on the stage's clock.</summary>
    public DateTimeOffset Timestamp { get; init; }

    /// <summary>How long the interval was.</summary>
    public TimeSpan Interval { get; init; }

    /// <summary>Every shard's figures, keyed shards first, the unkeyed one last.</summary>
    public required IReadOnlyList<ShardMetricsSnapshot> Shards { get; init; }

    /// <summary>Cumulative counts over all shards.</summary>
    public StageCounts Counts { get; init; }

    /// <summary>Counts within the interval over all shards.</summary>
    public StageCounts IntervalCounts { get; init; }

    /// <summary>Successful handler runs per second over the interval.</summary>
    public double ProcessedPerSecond => Interval > TimeSpan.Zero ? IntervalCounts.Processed / Interval.TotalSeconds : 0;

    /// <summary>Items waiting now, over all shards.</summary>
    public long Depth => Shards.Sum(s => s.Depth);

    /// <summary>The deepest shard now.</summary>
    public long MaxShardDepth => Shards.Count == 0 ? 0 : Shards.Max(s => s.Depth);

    /// <summary>Busy share of the interval over all workers of all shards.</summary>
    public double Utilization { get; init; }

    /// <summary>Handler time per run over all shards.</summary>
    public LatencySummary WorkDuration { get; init; } = LatencySummary.Empty;

    /// <summary>Accept to first handler start over all shards.</summary>
    public LatencySummary QueueWait { get; init; } = LatencySummary.Empty;

    /// <summary>Pipeline entry to settled here over all shards (sink stages only; null elsewhere).</summary>
    public LatencySummary? EndToEnd { get; init; }

    /// <summary>The window figures of each shard that has folded an item, for a keyed window step (<c>TumblingWindow</c>, <c>SessionWindow</c>, <c>BatchByKey</c>); empty for every other stage.</summary>
    public IReadOnlyList<WindowMetricsSnapshot> Windows { get; init; } = [];

    /// <summary>Cumulative counts per value of the <c>kind</c> dimension (empty without a <c>KindSelector</c>).</summary>
    public IReadOnlyList<KindMetrics> Kinds { get; init; } = [];
}
