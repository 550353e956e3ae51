namespace Engine.Stages;

/// <summary>
/// Thrown by <see cref="Stage{T}.WriteAsync(T, CancellationToken)"/> when the stage no longer accepts items because
/// <see cref="Stage{T}.Complete"/> was called or the stage was stopped. The item was not accepted.
/// </summary>
public sealed class StageCompletedException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    public StageCompletedException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">The message.</param>
    public StageCompletedException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public StageCompletedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
