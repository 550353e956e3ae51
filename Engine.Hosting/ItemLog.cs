using System.Collections.Concurrent;
using Engine.Routing;
using Microsoft.Extensions.Logging;

namespace Engine.Hosting;

/// <summary>
/// The default logging of item outcomes: dead letters, drops, handler errors and callback errors, each
/// with its stage and item key, rate-limited per stage and kind (<see cref="LogLimiter"/>).
/// </summary>
internal sealed class ItemLog
{
    private readonly ConcurrentDictionary<(string Stage, string What), LogLimiter> _limiters = new();
    private readonly TimeProvider _clock;
    private readonly int _limit;
    private readonly TimeSpan _window;

    public ItemLog(ILogger logger, TimeProvider clock, EngineHostingOptions options)
    {
        Logger = logger;
        _clock = clock;
        _limit = options.LogLimit;
        _window = options.LogWindow;
        Enabled = options.LogItems;
    }

    public ILogger Logger { get; }

    public bool Enabled { get; }

    /// <summary>Whether an entry of <paramref name="what"/> for <paramref name="stage"/> may be logged now (writing the summary of held-back ones first).</summary>
    public bool ShouldLog(string stage, string what, LogLevel level)
    {
        if (!Enabled || !Logger.IsEnabled(level))
        {
            return false;
        }

        LogLimiter limiter = _limiters.GetOrAdd((stage, what), _ => new LogLimiter(_clock, _limit, _window));
        bool enter = limiter.TryEnter(out long suppressed);
        if (suppressed > 0)
        {
            HostingLog.Suppressed(Logger, stage, suppressed, what, _limit, _window);
        }

        return enter;
    }

    /// <summary>Writes the summary of every window that ended with entries held back (called by the monitor).</summary>
    public void FlushSuppressed()
    {
        foreach (KeyValuePair<(string Stage, string What), LogLimiter> pair in _limiters)
        {
            long suppressed = pair.Value.TakeSuppressed();
            if (suppressed > 0)
            {
                HostingLog.Suppressed(Logger, pair.Key.Stage, suppressed, pair.Key.What, _limit, _window);
            }
        }
    }

    /// <summary>The item's key for a log entry; a throwing selector is not the log's business, so it reads as "?".</summary>
    public static string KeyOf<T>(Func<T, ItemKey>? selector, T item)
    {
        if (selector is null)
        {
            return "(unkeyed)";
        }

        try
        {
            ItemKey key = selector(item);
            return key.IsNone ? "(unkeyed)" : key.ToString();
        }
#pragma warning disable CA1031 // A key selector that throws here already failed the write that accepted nothing; logging must not throw.
        catch (Exception)
#pragma warning restore CA1031
        {
            return "?";
        }
    }
}
