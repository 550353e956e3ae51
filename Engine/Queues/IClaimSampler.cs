namespace Engine.Queues;

/// <summary>
/// Told of one claim in N on a <see cref="RingChannel{T}"/>, by the claim's position (its count of
/// earlier claims), between the claim and the item's publication: the item can still be changed in its
/// slot, and no taker can see it yet. The shard samples its queue-wait stamps this way (see
/// <c>StageOptions.LatencySampling</c>): the decision costs the ring a mask test on a position it
/// already holds, where deciding before the write cost every write a read of the ring's tail, a cache
/// line every other writer moves.
/// </summary>
/// <typeparam name="T">The items.</typeparam>
internal interface IClaimSampler<T>
{
    /// <summary>
    /// Called on the writer's thread for a sampled claim, with the item in its slot. It must be short
    /// and must not throw: the slot is published only after it returns, and until then every take
    /// behind it waits.
    /// </summary>
    /// <param name="item">The item, in its slot.</param>
    void Sampled(ref T item);
}
