using Microsoft.Extensions.Logging;

namespace Engine.Hosting;

/// <summary>Engine.Hosting's log messages (source-generated: no allocation when the level is off).</summary>
internal static partial class HostingLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Error, Message = "Stage '{Stage}' dead-lettered item {Key} after {Attempts} attempt(s).")]
    public static partial void DeadLettered(ILogger logger, string stage, string key, int attempts, Exception exception);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "Stage '{Stage}' dropped item {Key}: {Reason}.")]
    public static partial void Dropped(ILogger logger, string stage, string key, DropReason reason);

    [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "Stage '{Stage}': the handler failed for item {Key} (retried when transient and attempts remain).")]
    public static partial void HandlerFailed(ILogger logger, string stage, string key, Exception exception);

    [LoggerMessage(EventId = 4, Level = LogLevel.Warning, Message = "Stage '{Stage}': the {Callback} callback threw for item {Key}; the stage swallowed and counted it.")]
    public static partial void CallbackFailed(ILogger logger, string stage, string callback, string key, Exception exception);

    [LoggerMessage(EventId = 5, Level = LogLevel.Warning, Message = "Stage '{Stage}': {Count} more {What} were not logged (at most {Limit} per {Window}).")]
    public static partial void Suppressed(ILogger logger, string stage, long count, string what, int limit, TimeSpan window);


    [LoggerMessage(EventId = 10, Level = LogLevel.Information, Message = "Engine {Kind} '{Name}' started.")]
    public static partial void Started(ILogger logger, string kind, string name);

    [LoggerMessage(EventId = 11, Level = LogLevel.Information, Message = "Draining {Kind} '{Name}' for up to {Timeout}: {Left} item(s) left.")]
    public static partial void Draining(ILogger logger, string kind, string name, TimeSpan timeout, long left);

    /// <summary>Per stage, as the abort line: summed over a pipeline's stages, an item would count once per stage it went through.</summary>
    [LoggerMessage(EventId = 12, Level = LogLevel.Information, Message = "Engine {Kind} '{Name}' drained: {Detail}.")]
    public static partial void Drained(ILogger logger, string kind, string name, string detail);

    [LoggerMessage(EventId = 13, Level = LogLevel.Warning, Message = "Engine {Kind} '{Name}' did not drain within {Timeout} (or the host's shutdown timeout); aborted, {Abandoned} item(s) abandoned: {Detail}.")]
    public static partial void Abandoned(ILogger logger, string kind, string name, TimeSpan timeout, long abandoned, string detail);

    [LoggerMessage(EventId = 14, Level = LogLevel.Error, Message = "Engine {Kind} '{Name}' faulted.")]
    public static partial void Faulted(ILogger logger, string kind, string name, Exception exception);

    [LoggerMessage(EventId = 15, Level = LogLevel.Information, Message = "Engine metrics reporting started: {Reporters}.")]
    public static partial void ReportingStarted(ILogger logger, string reporters);

    [LoggerMessage(EventId = 16, Level = LogLevel.Warning, Message = "Engine monitor: sampling failed.")]
    public static partial void MonitorFailed(ILogger logger, Exception exception);
}
