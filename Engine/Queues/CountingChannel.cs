using System.Threading.Channels;

namespace Engine.Queues;

/// <summary>
/// A bounded channel that counts the items it accepts, so the shard can take its accounting from the
/// channel's own write instead of counting each write again (issue 24: a plain write costs the shard
/// no atomic instruction of its own). <see cref="RingChannel{T}"/> counts for free (its tail is the
/// count); <see cref="CountedBoundedChannel{T}"/> wraps the runtime's channel for the modes the ring
/// does not cover.
/// </summary>
/// <typeparam name="T">The items.</typeparam>
internal abstract class CountingChannel<T> : Channel<T>
{
    /// <summary>
    /// The items the channel has accepted since it was created. An item is counted before a reader can
    /// take it; a write that fails may be counted for an instant (<see cref="CountedBoundedChannel{T}"/>
    /// counts first and takes it back), never the other way round, so the figure never misses an item
    /// a reader holds. Frozen once the channel is completed and its last accepted write has returned.
    /// </summary>
    public abstract long Accepted { get; }

    /// <summary>
    /// Whether a successful <see cref="ChannelWriter{T}.TryWrite"/> ends with a full fence after the item
    /// is counted in <see cref="ChannelReader{T}.Count"/>: then a writer's next read cannot move ahead of
    /// its write, and the shard's loop wake-up needs no fence of its own (see <c>Shard.EnsureLoop</c>).
    /// </summary>
    public abstract bool WriteIsFenced { get; }
}
