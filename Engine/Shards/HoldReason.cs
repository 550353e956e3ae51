namespace Engine.Shards;

/// <summary>Why an item waits on a timer of its shard (<see cref="PendingRetry{T}.Reason"/>).</summary>
internal enum HoldReason : byte
{
    /// <summary>A transient failure's backoff (waiting for retry).</summary>
    Retry = 0,

    /// <summary>A delayed write (delayed).</summary>
    Delay,

    /// <summary>The handler asked to run the item again later, without a failure (delayed).</summary>
    Requeue,

    /// <summary>The handler deferred the item, not charged as an attempt (waiting for retry).</summary>
    Defer,

    /// <summary>The stage's rate limit gave the item no permit yet (delayed).</summary>
    RateLimit,

    /// <summary>The item's dedupe key has not been quiet long enough (delayed).</summary>
    Debounce,
}
