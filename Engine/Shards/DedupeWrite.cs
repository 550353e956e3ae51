using System.Runtime.InteropServices;
using Engine.Routing;

namespace Engine.Shards;

/// <summary>What a dedupe stage computed for an item before it reaches its shard (user code runs outside the shard's lock).</summary>
[StructLayout(LayoutKind.Auto)]
internal readonly struct DedupeWrite<T>
{
    public DedupeWrite(T item, ItemKey routingKey, ItemKey dedupeKey, ulong contentHash, bool hasContentHash, bool isTombstone)
    {
        Item = item;
        RoutingKey = routingKey;
        DedupeKey = dedupeKey;
        ContentHash = contentHash;
        HasContentHash = hasContentHash;
        IsTombstone = isTombstone;
    }

    public T Item { get; }

    public ItemKey RoutingKey { get; }

    public ItemKey DedupeKey { get; }

    public ulong ContentHash { get; }

    public bool HasContentHash { get; }

    public bool IsTombstone { get; }

    /// <summary>The trace context of the write (see <see cref="Envelope{T}.Trace"/>).</summary>
    public object? Trace { get; init; }
}
