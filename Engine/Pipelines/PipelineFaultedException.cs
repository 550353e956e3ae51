namespace Engine.Pipelines;

/// <summary>
/// A pipeline stopped on a fatal error (a defect such as a key selector that throws inside the graph):
/// every stage was aborted and <see cref="Counts"/> says what each still held (abandoned).
/// </summary>
public sealed class PipelineFaultedException : Exception
{
    /// <summary>Creates the exception.</summary>
    public PipelineFaultedException()
    {
        Stage = "";
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">The message.</param>
    public PipelineFaultedException(string message)
        : base(message)
    {
        Stage = "";
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public PipelineFaultedException(string message, Exception innerException)
        : base(message, innerException)
    {
        Stage = "";
    }

    internal PipelineFaultedException(string message, string stage, PipelineCounts counts, Exception innerException)
        : base(message, innerException)
    {
        Stage = stage;
        Counts = counts;
    }

    /// <summary>The stage where the fatal error surfaced.</summary>
    public string Stage { get; }

    /// <summary>Every stage's counts once all had stopped; null when not raised by a pipeline.</summary>
    public PipelineCounts? Counts { get; }
}
