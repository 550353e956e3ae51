namespace Engine.Nats;

/// <summary>
/// A member or writer was refused because its layout (partition count, latest-per-key, stream limit)
/// differs from the one stored by the first member or writer of the stage.
/// </summary>
public sealed class NatsStageConfigurationException : Exception
{
    /// <summary>Creates the exception.</summary>
    public NatsStageConfigurationException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">What differs, named.</param>
    public NatsStageConfigurationException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    /// <param name="message">What differs, named.</param>
    /// <param name="innerException">The cause.</param>
    public NatsStageConfigurationException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
