namespace Engine.Shards;

/// <summary>Marks on an <see cref="Envelope{T}"/>: set while it is taken, or by its write (one that waited for room, a delayed one).</summary>
[Flags]
internal enum EnvelopeFlags : byte
{
    None = 0,

    /// <summary>Content dedupe found it identical to its key's last processed item: skip it.</summary>
    ContentDuplicate = 1,

    /// <summary>
    /// The item's key was claimed for it (see <c>Shard.ClaimsOnDemand</c>): settling it frees the key.
    /// Set on every item whose key the shard claimed, whatever the shard's mode.
    /// </summary>
    KeyClaimed = 2,

    /// <summary>
    /// A write that waited for room on the ring was not chosen to be timed when it began: its claim
    /// must not time it (see <c>Shard.WriteWaitingAsync</c>).
    /// </summary>
    Untimed = 4,

    /// <summary>
    /// Written by a delayed write that keeps its key's order: it travels through the channel (and may
    /// park behind its key) like any item, its <see cref="Envelope{T}.AcceptedTimestamp"/> is its due
    /// time (when it becomes runnable, so its queue wait counts from there), and when it has claimed
    /// its key before that time it waits on a timer (see <c>Shard.Timed.cs</c>). Bit 8, leaving 4 to
    /// the ring's untimed claims of issue 24.
    /// </summary>
    Delayed = 8,
}
