namespace Engine.Nats;

/// <summary>
/// A write did not become durable: the server rejected it (its PubAck carried an error), no stream
/// answered, or no PubAck came within the publish timeout. The item may or may not be stored in the
/// last case; write it again with the same message id to let the duplicate window drop a copy.
/// </summary>
public sealed class NatsStagePublishException : Exception
{
    /// <summary>Creates the exception.</summary>
    public NatsStagePublishException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">Why the write failed.</param>
    public NatsStagePublishException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    /// <param name="message">Why the write failed.</param>
    /// <param name="innerException">The cause.</param>
    public NatsStagePublishException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>The server's error code (for example 503), or 0 when the server gave none.</summary>
    public int ErrorCode { get; init; }

    /// <summary>The subject the write went to, when known.</summary>
    public string? Subject { get; init; }
}
