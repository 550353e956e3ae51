namespace Engine.Shards;

/// <summary>
/// A key that is busy in a shard: one of its items is in a handler, ready, or waiting for a retry.
/// Items of the key read meanwhile wait in <see cref="Backlog"/>, in order (client-go's
/// dirty/processing rule). Instances are pooled by the shard and only touched under its lock.
/// </summary>
internal sealed class KeyState<T>
{
    /// <summary>The key's items that arrived while it was busy, oldest first.</summary>
    public Queue<Envelope<T>> Backlog { get; } = new();

    /// <summary>The key's item waiting for a retry's backoff, if any (a newer item may make it stale).</summary>
    public PendingRetry<T>? Retry { get; set; }
}
