namespace Engine.Shards;

/// <summary>Where a <see cref="DedupeSlot{T}"/> is.</summary>
internal enum SlotState
{
    /// <summary>In the shard's pool.</summary>
    Free = 0,

    /// <summary>Waiting in the channel (a replace there is <c>pending</c>/<c>merged</c>).</summary>
    InChannel,

    /// <summary>Waiting behind its busy key, in the backlog or the ready queue (a replace there is <c>in_flight</c>).</summary>
    Held,

    /// <summary>Taken by a worker; no longer replaceable.</summary>
    Taken,

    /// <summary>Evicted by a full mode.</summary>
    Dropped,

    /// <summary>Waiting for its time (a delayed write, a debounce): a replace there is <c>delayed</c>.</summary>
    Delayed,
}
