namespace Engine.Shards;

/// <summary>
/// What one shard holds and runs at one moment, read under its lock for <c>Engine.Testing</c>'s
/// harness (<see cref="Shard{T}.Inspect"/>). The loop and write counts change outside the lock, so a
/// reading taken while the shard is busy may mix two moments; one taken while it is idle is exact.
/// </summary>
internal readonly record struct ShardActivity
{
    /// <summary>Items in the channel.</summary>
    public int Channel { get; init; }

    /// <summary>The key of the channel's first item (null when unkeyed or when the channel cannot peek).</summary>
    public string? FirstKey { get; init; }

    /// <summary>Items ready to run (a freed key's next item, a retry whose backoff ended).</summary>
    public int Ready { get; init; }

    /// <summary>Items parked behind a busy key.</summary>
    public int Parked { get; init; }

    /// <summary>Items on a timer: their key, the attempts made, and why they wait (a retry's backoff, or their time).</summary>
    public IReadOnlyList<(string? Key, int Attempts, HoldReason Reason)> Retrying { get; init; }

    /// <summary>Whether the shard holds so many items outside its channel that it reads no more of it.</summary>
    public bool HoldLimitReached { get; init; }

    /// <summary>Worker loops running.</summary>
    public int Loops { get; init; }

    /// <summary>The most loops that may run (the shard's workers).</summary>
    public int MaxLoops { get; init; }

    /// <summary>Writes waiting for room.</summary>
    public long BlockedWriters { get; init; }

    /// <summary>Items in handlers.</summary>
    public long InFlight { get; init; }

    /// <summary>
    /// Counts the shard holds beyond the items listed above and the waiting writes: a write that has
    /// not yet counted its item, or a callback that has not yet returned. Zero when nothing is under way.
    /// </summary>
    public long OpenCounts { get; init; }
}
