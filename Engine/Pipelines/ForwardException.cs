using Engine.Internal;

namespace Engine.Pipelines;

/// <summary>
/// A pipeline stage could not hand an output on: the downstream stage refused it (for example its full
/// mode is <c>Reject</c>) or had stopped. Outputs forwarded before it stay forwarded, so the input is
/// never retried (a retry would send them again); it is dead-lettered with this exception, which
/// names both stages and carries the downstream error.
/// </summary>
public sealed class ForwardException : Exception, IPermanentFailure
{
    /// <summary>Creates the exception.</summary>
    public ForwardException()
    {
        Stage = "";
        Downstream = "";
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">The message.</param>
    public ForwardException(string message)
        : base(message)
    {
        Stage = "";
        Downstream = "";
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public ForwardException(string message, Exception innerException)
        : base(message, innerException)
    {
        Stage = "";
        Downstream = "";
    }

    internal ForwardException(string stage, string downstream, Exception innerException)
        : base($"Stage '{stage}' could not hand an output to '{downstream}' (outputs of this input handed on before it stay handed on, so the input is not retried): {innerException.Message}", innerException)
    {
        Stage = stage;
        Downstream = downstream;
    }

    /// <summary>The stage whose output could not be handed on.</summary>
    public string Stage { get; }

    /// <summary>The stage that refused it.</summary>
    public string Downstream { get; }
}
