using System.Runtime.InteropServices;

namespace Engine.Nats;

/// <summary>Where a write was stored: acknowledged by the server, so durable.</summary>
[StructLayout(LayoutKind.Auto)]
public readonly struct NatsWriteResult
{
    internal NatsWriteResult(int partition, ulong sequence, bool duplicate)
    {
        Partition = partition;
        Sequence = sequence;
        Duplicate = duplicate;
    }

    /// <summary>The partition the item went to: <c>Fnv1a(key) % Partitions</c>.</summary>
    public int Partition { get; }

    /// <summary>The item's sequence in its partition's stream.</summary>
    public ulong Sequence { get; }

    /// <summary>Whether the server had already stored a message with the same message id (inside the duplicate window) and dropped this copy.</summary>
    public bool Duplicate { get; }
}
