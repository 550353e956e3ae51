namespace Engine.RateLimits;

/// <summary>
/// Thrown by a rate-limited stage's handler wrapper (<see cref="RateLimitGate{T}"/>) when its item got
/// no permit: the shard then holds the item for <see cref="RetryAfter"/> (shape) or drops it. Never
/// seen by users: the shard settles it before any failure handling.
/// </summary>
internal sealed class RateLimitedException : Exception
{
    public RateLimitedException(TimeSpan retryAfter, bool drop)
        : base(drop ? "The item got no rate-limit permit and is dropped." : $"The item got no rate-limit permit; it waits {retryAfter}.")
    {
        RetryAfter = retryAfter;
        Drop = drop;
    }

    /// <summary>How long a shaped item waits.</summary>
    public TimeSpan RetryAfter { get; }

    /// <summary>Whether the item is dropped instead (<see cref="RateLimitMode.Drop"/>).</summary>
    public bool Drop { get; }
}
