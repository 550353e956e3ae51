namespace Engine.Pipelines.Nodes;

/// <summary>A node that accepts items of type <typeparamref name="T"/> with their pipeline entry timestamp.</summary>
internal interface ITarget<in T>
{
    /// <summary>The node itself, for the graph.</summary>
    Node Node { get; }

    /// <summary>
    /// Whether a write with an entry timestamp of 0 is stamped as entering now by the node itself
    /// (a stage that stamps its writes), so the pipeline's entry need not read the clock for it.
    /// </summary>
    bool StampsEntry { get; }

    /// <summary>
    /// Writes an item, waiting while the node is full (backpressure). <paramref name="trace"/> is what
    /// it carries of the context it was written in (<c>EngineTracing.Capture()</c> by the writer, or a
    /// batch's links; null when nothing listened).
    /// </summary>
    ValueTask WriteAsync(T item, long entryTimestamp, object? trace, CancellationToken cancellationToken);
}
