using System.Runtime.InteropServices;

namespace Engine.Nats;

/// <summary>
/// What a distributed stage's handler may know about the item it runs: the engine's
/// <see cref="ItemContext"/> plus where the message lives and who owns it, which is what an idempotent
/// handler needs (at-least-once delivery means an item can run again after a crash).
/// </summary>
[StructLayout(LayoutKind.Auto)]
public readonly struct NatsItemContext
{
    internal NatsItemContext(ItemContext engine, int partition, ulong sequence, string messageId, ulong fencingToken, ulong deliveries)
    {
        Engine = engine;
        Partition = partition;
        Sequence = sequence;
        MessageId = messageId;
        FencingToken = fencingToken;
        Deliveries = deliveries;
    }

    /// <summary>The local stage's context: attempt (local retries) and entry timestamp.</summary>
    public ItemContext Engine { get; }

    /// <summary>The partition the item belongs to.</summary>
    public int Partition { get; }

    /// <summary>
    /// The message's sequence in its partition's stream: increasing in the key's order, stable across
    /// redeliveries. A sink can skip a (partition, sequence) at or below the last it applied for the key.
    /// </summary>
    public ulong Sequence { get; }

    /// <summary>
    /// A stable id for the message: the writer's <c>Nats-Msg-Id</c> when it gave one, otherwise
    /// <c>{stream}:{sequence}</c>. Use it to derive ids of outputs (for the next stream's duplicate window).
    /// </summary>
    public string MessageId { get; }

    /// <summary>
    /// The lease revision this member's ownership of the partition started with. It grows with every new
    /// owner, so a sink that remembers the highest token it saw per partition can refuse writes from a
    /// paused former owner (a zombie).
    /// </summary>
    public ulong FencingToken { get; }

    /// <summary>How many times the server has delivered this message (1 the first time; more after a crash or handover).</summary>
    public ulong Deliveries { get; }
}
