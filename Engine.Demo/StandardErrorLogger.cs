using Microsoft.Extensions.Logging;

namespace Engine.Demo;

/// <summary>Writes warnings and errors (a reporter that cannot reach InfluxDB, say) to standard error, one line each.</summary>
internal sealed class StandardErrorLogger : ILogger
{
    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (IsEnabled(logLevel))
        {
            Console.Error.WriteLine($"{logLevel.ToString().ToLowerInvariant()}: {formatter(state, exception)}{(exception is null ? string.Empty : " " + exception.Message)}");
        }
    }
}
