namespace Engine.RateLimits;

/// <summary>What a stage does with an item its rate limit does not let run now.</summary>
public enum RateLimitMode
{
    /// <summary>
    /// Shape: the item waits on a timer (for the lease's <c>RetryAfter</c>, else <see cref="RateLimitOptions{T}.RetryDelay"/>)
    /// with its key busy, while the worker goes on with other keys; it is never dropped. Held items
    /// count against the shard's hold limit, so backpressure reaches writers.
    /// </summary>
    Shape = 0,

    /// <summary>Drop: the item is dropped, counted with reason <see cref="DropReason.RateLimited"/> and reported to <c>OnDropped</c>.</summary>
    Drop,
}
