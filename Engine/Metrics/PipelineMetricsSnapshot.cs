namespace Engine.Metrics;

/// <summary>A pipeline's figures for one interval: every stage's snapshot and the end-to-end latency over its sinks.</summary>
public sealed record PipelineMetricsSnapshot
{
    /// <summary>The pipeline.</summary>
    public required string Pipeline { get; init; }

    /// <summary>When the snapshot was taken, on the pipeline's clock.</summary>
    public DateTimeOffset Timestamp { get; init; }

    /// <summary>Every stage's snapshot, batch stages and channel sinks included (counts and depth only: they run no handler), in the order they were added.</summary>
    public required IReadOnlyList<StageMetricsSnapshot> Stages { get; init; }

    /// <summary>Pipeline entry to settled at a sink stage, over all sink stages, for the interval.</summary>
    public LatencySummary EndToEnd { get; init; } = LatencySummary.Empty;
}
