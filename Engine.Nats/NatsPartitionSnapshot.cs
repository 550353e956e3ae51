namespace Engine.Nats;

/// <summary>One partition's figures, as seen by one member (see <see cref="NatsStageMember{T}.GetSnapshotAsync"/>).</summary>
public sealed class NatsPartitionSnapshot
{
    /// <summary>The partition.</summary>
    public int Partition { get; init; }

    /// <summary>The member holding the partition's lease now, from the lease bucket; null when none does (or it could not be read).</summary>
    public string? Owner { get; init; }

    /// <summary>Whether this member works the partition now.</summary>
    public bool OwnedHere { get; init; }

    /// <summary>The lease revision this member's current ownership started with (its consumer is <c>p{partition}-e{epoch}</c>); 0 when not owned here.</summary>
    public ulong Epoch { get; init; }

    /// <summary>How many times this member has taken the partition over (acquired its lease).</summary>
    public long Handovers { get; init; }

    /// <summary>How long this member waited for the partition the last time it took it: from first wanting it (held by another) to owning it. Null if never taken.</summary>
    public TimeSpan? LastTakeover { get; init; }

    /// <summary>Messages in the stream not yet delivered to the consumer (server figure); -1 when not owned here or not readable.</summary>
    public long Pending { get; init; }

    /// <summary>Messages delivered and not acknowledged yet (server figure); -1 when not owned here or not readable.</summary>
    public long AckPending { get; init; }

    /// <summary>Messages delivered more than once by the current consumer (server figure); -1 when not owned here or not readable.</summary>
    public long Redelivered { get; init; }

    /// <summary>Messages this member acknowledged for the partition, over all its epochs.</summary>
    public long Acked { get; init; }

    /// <summary>Messages this member sent to the DLQ stream for the partition, over all its epochs.</summary>
    public long DeadLettered { get; init; }

    /// <summary>Messages of the current epoch held locally and not settled yet.</summary>
    public int HeldLocally { get; init; }

    /// <summary>The current epoch's local stage counts (default when not owned here).</summary>
    public StageCounts Local { get; init; }
}
