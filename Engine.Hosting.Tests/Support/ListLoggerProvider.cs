using Engine.Tests.Support;
using Microsoft.Extensions.Logging;

namespace Engine.Hosting.Tests.Support;

/// <summary>Hands every category the same <see cref="ListLogger"/>, so a test reads what the host logged.</summary>
internal sealed class ListLoggerProvider : ILoggerProvider
{
    public ListLogger Logger { get; } = new();

    public ILogger CreateLogger(string categoryName) => Logger;

    public void Dispose()
    {
    }

    public IEnumerable<string> Messages(LogLevel atLeast = LogLevel.Trace) =>
        Logger.Entries.Where(e => e.Level >= atLeast).Select(e => e.Message);
}
