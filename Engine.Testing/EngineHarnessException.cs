namespace Engine.Testing;

/// <summary>
/// A check of the <see cref="EngineHarness"/> failed: a stage's counts do not add up, a pipeline
/// cannot drain, a source failed to write. The harness's own exception type, so it reads the same
/// under NUnit, xUnit and MSTest (each reports an unexpected exception as a failure with its message).
/// </summary>
public class EngineHarnessException : Exception
{
    /// <summary>Creates an exception with no message.</summary>
    public EngineHarnessException()
    {
    }

    /// <summary>Creates an exception with a message.</summary>
    /// <param name="message">What failed.</param>
    public EngineHarnessException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and its cause.</summary>
    /// <param name="message">What failed.</param>
    /// <param name="innerException">The cause.</param>
    public EngineHarnessException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
