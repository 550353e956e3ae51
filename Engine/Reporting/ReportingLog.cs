using Microsoft.Extensions.Logging;

namespace Engine.Reporting;

/// <summary>The reporting subsystem's log messages (source-generated: no allocation when the level is off).</summary>
internal static partial class ReportingLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Warning, Message = "Metrics reporter '{Reporter}' failed to flush.")]
    public static partial void FlushFailed(ILogger logger, string reporter, Exception exception);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "Metrics reporter '{Reporter}' did not flush within {Timeout}; its flushes are skipped until that one ends.")]
    public static partial void FlushTimedOut(ILogger logger, string reporter, TimeSpan timeout);

    [LoggerMessage(EventId = 3, Level = LogLevel.Debug, Message = "Metrics reporter '{Reporter}' skipped a flush: the previous one is still running.")]
    public static partial void FlushSkipped(ILogger logger, string reporter);

    [LoggerMessage(EventId = 4, Level = LogLevel.Warning, Message = "Metrics reporter '{Reporter}' failed to dispose.")]
    public static partial void DisposeFailed(ILogger logger, string reporter, Exception exception);

    [LoggerMessage(EventId = 5, Level = LogLevel.Warning, Message = "Metrics reporter '{Reporter}' stopped with {Points} points it could not deliver; they are abandoned.")]
    public static partial void PointsAbandoned(ILogger logger, string reporter, long points);

    [LoggerMessage(EventId = 6, Level = LogLevel.Warning, Message = "Metrics source '{Source}' failed to write its points; the report goes out without them.")]
    public static partial void SourceFailed(ILogger logger, string source, Exception exception);

    [LoggerMessage(EventId = 10, Level = LogLevel.Warning, Message = "InfluxDB reporter '{Reporter}': the server refused {Points} points with HTTP {Status}: {Message}. They are dropped, not retried.")]
    public static partial void PointsRejected(ILogger logger, string reporter, int status, int points, string message);

    [LoggerMessage(EventId = 11, Level = LogLevel.Warning, Message = "InfluxDB reporter '{Reporter}': write failed ({Problem}); {Buffered} points wait in the buffer.")]
    public static partial void WriteFailed(ILogger logger, string reporter, string problem, long buffered);

    [LoggerMessage(EventId = 12, Level = LogLevel.Warning, Message = "InfluxDB reporter '{Reporter}': backing off for {Delay} after {Failures} consecutive failures.")]
    public static partial void BackingOff(ILogger logger, string reporter, TimeSpan delay, int failures);

    [LoggerMessage(EventId = 13, Level = LogLevel.Information, Message = "InfluxDB reporter '{Reporter}': created database '{Database}'.")]
    public static partial void DatabaseCreated(ILogger logger, string reporter, string database);

    [LoggerMessage(EventId = 14, Level = LogLevel.Warning, Message = "InfluxDB reporter '{Reporter}': the buffer is full; dropped the {Points} oldest points.")]
    public static partial void PointsDropped(ILogger logger, string reporter, long points);
}
