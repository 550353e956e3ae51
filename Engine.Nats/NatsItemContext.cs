using System.Diagnostics;
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
    internal NatsItemContext(ItemContext engine, int partition, ulong sequence, string messageId, ulong fencingToken, ulong deliveries, long leaseDeadline, bool redelivered)
    {
        LeaseDeadline = leaseDeadline;
        Redelivered = redelivered;
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

    /// <summary>
    /// How many times the current epoch's consumer has delivered this message: 1 the first time, more
    /// only when the server redelivered it inside this member's ownership (its ack wait passed). Every
    /// handover starts a fresh consumer, so this starts again at 1 on the new owner: it does not tell
    /// whether the message ran before a crash or handover. <see cref="Redelivered"/> does.
    /// </summary>
    public ulong Deliveries { get; }

    /// <summary>
    /// True when the message may have been handed to a handler before this run (outside this run's local
    /// retries, which <see cref="ItemContext.Attempt"/> counts): an earlier epoch's consumer delivered it
    /// and nobody acknowledged it (the former owner crashed, froze past its lease, lost the server, or
    /// left with a drain that timed out), or this epoch's consumer delivered it before (<see cref="Deliveries"/>
    /// above 1). False means no handler has received it. It may be true for a message the former owner
    /// only had buffered and never ran.
    /// </summary>
    public bool Redelivered { get; }

    /// <summary>
    /// The <see cref="Stopwatch.GetTimestamp"/> value until which this member certainly held the
    /// partition's lease when the run started: when the last renewal was sent, plus the lease TTL, less a
    /// fiftieth of it for clock-rate drift. Renewals move the member's deadline on while the run goes.
    /// A tenth of the TTL before the deadline, if no renewal moved it, the member stops the partition:
    /// the handler's cancellation token is cancelled, and no other run, pull or ack of this epoch
    /// happens. A handler that writes a side effect late in a long run can
    /// compare <see cref="LeaseRemaining"/> first; effects already under way when the process froze still
    /// need the sink to check <see cref="FencingToken"/>.
    /// </summary>
    public long LeaseDeadline { get; }

    /// <summary>How long from now until <see cref="LeaseDeadline"/> (negative once it passed). Reads the clock on each call.</summary>
    public TimeSpan LeaseRemaining => TimeSpan.FromSeconds((double)(LeaseDeadline - Stopwatch.GetTimestamp()) / Stopwatch.Frequency);
}
