namespace Engine.Shards;

/// <summary>Marks on an <see cref="Envelope{T}"/>: set while it is taken, or by a write that waits for room.</summary>
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
}
