namespace Engine.Timing;

/// <summary>
/// Thrown by a handler whose item cannot be handled now but should be tried again after
/// <see cref="RetryAfter"/> (an HTTP 429 or 503 with <c>Retry-After</c>, a lock held elsewhere):
/// a deferral, not a failure. The run is not charged to <c>Retry.MaxAttempts</c> (the next run sees
/// the same <see cref="ItemContext.Attempt"/>), no handler error is counted and nothing is
/// dead-lettered; the item is counted as deferred and waits as a retry does, its key busy so the key's
/// later items wait behind it. Subclass it to carry more. Needs the stage option <c>Delays</c>
/// (<see cref="DelayOptions"/>); without it this is an ordinary failure.
/// </summary>
public class DeferException : Exception
{
    /// <summary>Defers the item for <paramref name="retryAfter"/>.</summary>
    /// <param name="retryAfter">How long to wait; zero or more (longer than <see cref="DelayOptions.MaxDelay"/> waits that long).</param>
    /// <param name="message">A description; a default one when null.</param>
    /// <param name="innerException">The cause (for example the HTTP error), or null.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="retryAfter"/> is negative.</exception>
    public DeferException(TimeSpan retryAfter, string? message = null, Exception? innerException = null)
        : base(message ?? $"The handler deferred its item for {retryAfter}.", innerException)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(retryAfter, TimeSpan.Zero);
        RetryAfter = retryAfter;
    }

    /// <summary>Defers the item with a zero wait.</summary>
    public DeferException()
        : this(TimeSpan.Zero)
    {
    }

    /// <summary>Defers the item with a zero wait.</summary>
    /// <param name="message">A description.</param>
    public DeferException(string message)
        : this(TimeSpan.Zero, message)
    {
    }

    /// <summary>Defers the item with a zero wait.</summary>
    /// <param name="message">A description.</param>
    /// <param name="innerException">The cause.</param>
    public DeferException(string message, Exception innerException)
        : this(TimeSpan.Zero, message, innerException)
    {
    }

    /// <summary>How long the item waits before it runs again.</summary>
    public TimeSpan RetryAfter { get; }
}
