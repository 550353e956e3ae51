namespace Engine.Pipelines.Nodes;

/// <summary>A node that accepts items of type <typeparamref name="T"/> with their pipeline entry timestamp.</summary>
internal interface ITarget<in T>
{
    /// <summary>The node itself, for the graph.</summary>
    Node Node { get; }

    /// <summary>Writes an item, waiting while the node is full (backpressure).</summary>
    ValueTask WriteAsync(T item, long entryTimestamp, CancellationToken cancellationToken);
}
