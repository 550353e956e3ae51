namespace Engine.Queues;

/// <summary>Which channel a shard queues its items in.</summary>
internal enum ShardQueue
{
    /// <summary>The runtime's bounded channel (<c>Channel.CreateBounded</c>): every full mode. The default.</summary>
    Runtime,

    /// <summary>
    /// The engine's lock-free <see cref="RingChannel{T}"/> where the full mode allows it (<c>Wait</c>,
    /// <c>DropWrite</c>, <c>Reject</c>); the drop-oldest and drop-newest modes, which evict, keep the
    /// runtime's. Not the default until the benchmarks show it faster (issue 24); the shard's suites run on both.
    /// </summary>
    Ring,
}
