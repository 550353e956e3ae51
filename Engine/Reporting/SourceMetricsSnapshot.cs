namespace Engine.Reporting;

/// <summary>What one <see cref="IMetricsSource"/> contributed to a report, and how its collections have gone.</summary>
public sealed record SourceMetricsSnapshot
{
    /// <summary>The source's <see cref="IMetricsSource.Name"/>.</summary>
    public required string Source { get; init; }

    /// <summary>The points it wrote for this report, in the order written; empty when its call threw.</summary>
    public IReadOnlyList<MetricPoint> Points { get; init; } = [];

    /// <summary>Whether its call for this report threw (its points were then discarded).</summary>
    public bool Failed { get; init; }

    /// <summary>Calls that threw since it was added, over every reporter (each report is one call).</summary>
    public long Failures { get; init; }
}
