namespace Engine.Stages;

/// <summary>
/// Thrown by <see cref="Stage{T}.WriteAsync(T, CancellationToken)"/> of a <see cref="StageFullMode.Reject"/> stage whose
/// shard is full. The item was not accepted.
/// </summary>
public sealed class StageFullException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    public StageFullException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">The message.</param>
    public StageFullException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public StageFullException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
