namespace Engine.Testing;

/// <summary>
/// The engine did not become idle within <see cref="EngineHarnessOptions.IdleTimeout"/> (real time).
/// The message lists everything still busy (pipeline, stage, shard, key, and what it is doing or
/// waiting for) and everything waiting for the clock; a handler that waits for something other than
/// the harness's clock (real I/O, a real delay, a lock) is named as such.
/// </summary>
public sealed class EngineHarnessTimeoutException : EngineHarnessException
{
    /// <summary>Creates an exception with no message.</summary>
    public EngineHarnessTimeoutException()
    {
    }

    /// <summary>Creates an exception with a message.</summary>
    /// <param name="message">What is still busy.</param>
    public EngineHarnessTimeoutException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and its cause.</summary>
    /// <param name="message">What is still busy.</param>
    /// <param name="innerException">The cause.</param>
    public EngineHarnessTimeoutException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>One line per thing still busy when the harness gave up, as in the message.</summary>
    public IReadOnlyList<string> Busy { get; init; } = [];
}
