namespace Engine.Shards;

/// <summary>What a shard did with a non-blocking write.</summary>
internal enum WriteOutcome
{
    /// <summary>The item is in the shard (a full mode may have dropped another item for it).</summary>
    Accepted,

    /// <summary>The item was accepted and at once dropped by <c>DropWrite</c>; counted and reported.</summary>
    Dropped,

    /// <summary>The shard is full and the mode does not drop: the item was not accepted.</summary>
    Full,

    /// <summary>The shard no longer takes items: the item was not accepted.</summary>
    Closed,
}
