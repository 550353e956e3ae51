namespace Engine;

/// <summary>Why an accepted item was dropped: the <see cref="StageFullMode"/> that dropped it, or the stage's rate limit.</summary>
public enum DropReason
{
    /// <summary>Evicted as the oldest waiting item of a full shard (<see cref="StageFullMode.DropOldest"/>).</summary>
    DropOldest = 0,

    /// <summary>Evicted as the newest waiting item of a full shard (<see cref="StageFullMode.DropNewest"/>).</summary>
    DropNewest,

    /// <summary>Dropped as it was written to a full shard (<see cref="StageFullMode.DropWrite"/>).</summary>
    DropWrite,

    /// <summary>Dropped because the stage's rate limit gave it no permit (<c>RateLimitMode.Drop</c>).</summary>
    RateLimited,
}
