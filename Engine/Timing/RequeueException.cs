namespace Engine.Timing;

/// <summary>
/// Thrown by a handler to run its item again after <see cref="Delay"/>, without it being a failure:
/// the run is not counted as an attempt (the next run sees the same <see cref="ItemContext.Attempt"/>),
/// no handler error is counted and nothing is dead-lettered; the item is counted as requeued. Its key
/// stays busy meanwhile, so the key's later items wait behind it (per-key order holds). Needs the
/// stage option <c>Delays</c> (<see cref="DelayOptions"/>); without it this is an ordinary failure.
/// </summary>
public sealed class RequeueException : Exception
{
    /// <summary>Requeues the item after <paramref name="delay"/>.</summary>
    /// <param name="delay">How long to wait; zero or more (longer than <see cref="DelayOptions.MaxDelay"/> waits that long).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="delay"/> is negative.</exception>
    public RequeueException(TimeSpan delay)
        : base($"The handler requeued its item for {delay}.")
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(delay, TimeSpan.Zero);
        Delay = delay;
    }

    /// <summary>Requeues the item after a zero delay.</summary>
    public RequeueException()
        : this(TimeSpan.Zero)
    {
    }

    /// <summary>Requeues the item after a zero delay (the message is ignored by the engine).</summary>
    /// <param name="message">A description.</param>
    public RequeueException(string message)
        : base(message)
    {
    }

    /// <summary>Requeues the item after a zero delay (the message and inner exception are ignored by the engine).</summary>
    /// <param name="message">A description.</param>
    /// <param name="innerException">The cause.</param>
    public RequeueException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>How long the item waits before it runs again.</summary>
    public TimeSpan Delay { get; }
}
