namespace Engine.Queues;

/// <summary>Which channel a shard queues its items in.</summary>
internal enum ShardQueue
{
    /// <summary>
    /// The default: the engine's lock-free <see cref="RingChannel{T}"/> where the full mode allows it
    /// (<c>Wait</c>, <c>DropWrite</c>, <c>Reject</c>); the drop-oldest and drop-newest modes, which evict,
    /// keep the runtime's channel (<see cref="CountedBoundedChannel{T}"/>).
    /// </summary>
    Ring,

    /// <summary>
    /// The runtime's bounded channel (<c>Channel.CreateBounded</c>, through <see cref="CountedBoundedChannel{T}"/>)
    /// for every full mode. Kept so the shard's suites run on both queues.
    /// </summary>
    Runtime,
}
