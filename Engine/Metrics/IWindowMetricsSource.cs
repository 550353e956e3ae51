namespace Engine.Metrics;

/// <summary>A keyed window step as the <c>Engine</c> meter reads it at a collection.</summary>
internal interface IWindowMetricsSource
{
    /// <summary>The step's name.</summary>
    string Name { get; }

    /// <summary>The pipeline it belongs to.</summary>
    string? PipelineName { get; }

    /// <summary>Every shard that has folded an item: its counts now (no distributions), with its tags.</summary>
    IEnumerable<(WindowMetricsSnapshot Live, KeyValuePair<string, object?>[] Tags)> LiveWindows();
}
