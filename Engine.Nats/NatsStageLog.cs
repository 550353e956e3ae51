using Microsoft.Extensions.Logging;

namespace Engine.Nats;

/// <summary>The distributed stage's log messages, generated once (no boxing or formatting when the level is off).</summary>
internal static partial class NatsStageLog
{
    [LoggerMessage(EventId = 101, Level = LogLevel.Warning, Message = "Distributed stage {Stage}: the server did not answer (attempt {Attempt} of {Attempts}); retrying in {Backoff}.")]
    public static partial void SetupRetry(ILogger logger, Exception exception, string stage, int attempt, int attempts, TimeSpan backoff);

    [LoggerMessage(EventId = 102, Level = LogLevel.Information, Message = "Distributed stage {Stage}: member {Member} joined.")]
    public static partial void Joined(ILogger logger, string stage, string member);

    [LoggerMessage(EventId = 103, Level = LogLevel.Information, Message = "Distributed stage {Stage}: member {Member} left.")]
    public static partial void Left(ILogger logger, string stage, string member);

    [LoggerMessage(EventId = 104, Level = LogLevel.Information, Message = "Distributed stage {Stage}: member {Member} owns partition {Partition} (epoch {Epoch}, waited {Takeover}).")]
    public static partial void Acquired(ILogger logger, string stage, string member, int partition, ulong epoch, TimeSpan? takeover);

    [LoggerMessage(EventId = 105, Level = LogLevel.Information, Message = "Distributed stage {Stage}: member {Member} released partition {Partition} (epoch {Epoch}).")]
    public static partial void Released(ILogger logger, string stage, string member, int partition, ulong epoch);

    [LoggerMessage(EventId = 106, Level = LogLevel.Warning, Message = "Distributed stage {Stage}: member {Member} stops partition {Partition} (epoch {Epoch}) at once: {Reason}.")]
    public static partial void Fenced(ILogger logger, string stage, string member, int partition, ulong epoch, string reason);

    [LoggerMessage(EventId = 107, Level = LogLevel.Warning, Message = "Distributed stage {Stage}: releasing partition {Partition} failed; its lease will expire.")]
    public static partial void ReleaseFailed(ILogger logger, Exception exception, string stage, int partition);

    [LoggerMessage(EventId = 108, Level = LogLevel.Warning, Message = "Distributed stage {Stage}: member {Member} could not reconcile ownership.")]
    public static partial void ReconcileFailed(ILogger logger, Exception exception, string stage, string member);

    [LoggerMessage(EventId = 109, Level = LogLevel.Warning, Message = "Distributed stage {Stage}: member {Member} could not start partition {Partition}.")]
    public static partial void StartFailed(ILogger logger, Exception exception, string stage, string member, int partition);

    [LoggerMessage(EventId = 110, Level = LogLevel.Warning, Message = "Distributed stage {Stage}: dead-lettering {Stream}:{Sequence} failed; the message is handed back for another run.")]
    public static partial void DeadLetterFailed(ILogger logger, Exception exception, string stage, string stream, ulong sequence);

    [LoggerMessage(EventId = 111, Level = LogLevel.Debug, Message = "Distributed stage {Stage}: {What} failed for partition {Partition}; it is retried or redelivered.")]
    public static partial void Minor(ILogger logger, Exception exception, string stage, string what, int partition);

    [LoggerMessage(EventId = 112, Level = LogLevel.Warning, Message = "Distributed stage {Stage}: a callback or loop failed ({What}); ignored.")]
    public static partial void Swallowed(ILogger logger, Exception exception, string stage, string what);
}
