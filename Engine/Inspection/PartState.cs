namespace Engine.Inspection;

/// <summary>One thing a watched part holds: what it is, where, and whether it waits for the clock.</summary>
/// <param name="Pipeline">The part's pipeline, or null.</param>
/// <param name="Part">The stage, batch stage or loop.</param>
/// <param name="Shard">The shard, for a stage; null otherwise.</param>
/// <param name="Key">The item's key as text, when one item is meant and its key is known; null otherwise.</param>
/// <param name="What">What it is doing or waiting for, in words.</param>
/// <param name="Busy">True when it can go on without the clock moving (so the part is not idle); false when it waits for the clock.</param>
internal readonly record struct PartState(string? Pipeline, string Part, int? Shard, string? Key, string What, bool Busy)
{
    /// <summary>Writes the part holds waiting for room in a full shard (each waits, for certain, until a worker takes an item).</summary>
    public long WritesWaitingForRoom { get; init; }

    /// <summary>
    /// Writers of the part (a handler run forwarding its output) that say they wait for room. A write
    /// that got its room tells its writer a moment later: while more writers say they wait than
    /// shards hold waiting writes, one is on its way and the engine is not idle.
    /// </summary>
    public long SaysItWaitsForRoom { get; init; }
}
