namespace Engine.Reporting;

/// <summary>An InfluxDB flush could not deliver its points; they stay buffered for the next flush.</summary>
public sealed class InfluxDbException : Exception
{
    /// <summary>Creates the exception.</summary>
    public InfluxDbException()
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What went wrong.</param>
    public InfluxDbException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="innerException">The cause.</param>
    public InfluxDbException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
