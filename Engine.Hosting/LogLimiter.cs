namespace Engine.Hosting;

/// <summary>
/// Lets at most a number of log entries through per window and counts the rest, so a stage that
/// dead-letters thousands of items a second logs a handful of them and one line saying how many more
/// there were, instead of flooding the log. Thread-safe; windows are on the host's clock.
/// </summary>
internal sealed class LogLimiter
{
    private readonly Lock _lock = new();
    private readonly TimeProvider _clock;
    private readonly long _windowTicks;
    private readonly int _limit;

    /// <summary>When the current window started (clock ticks); under <see cref="_lock"/>.</summary>
    private long _windowStart;

    /// <summary>Entries let through in the current window; under <see cref="_lock"/>.</summary>
    private int _written;

    /// <summary>Entries held back since the last summary; under <see cref="_lock"/>.</summary>
    private long _suppressed;

    public LogLimiter(TimeProvider clock, int limit, TimeSpan window)
    {
        _clock = clock;
        _limit = limit;
        _windowTicks = (long)(window.TotalSeconds * clock.TimestampFrequency);
        _windowStart = clock.GetTimestamp();
    }

    /// <summary>
    /// Whether an entry may be written now. When a window has ended with entries held back,
    /// <paramref name="suppressed"/> says how many, for one summary entry; it is 0 otherwise.
    /// </summary>
    public bool TryEnter(out long suppressed)
    {
        lock (_lock)
        {
            suppressed = Roll();
            if (_written < _limit)
            {
                _written++;
                return true;
            }

            _suppressed++;
            return false;
        }
    }

    /// <summary>Entries held back in windows that have ended (then forgotten), for the periodic summary.</summary>
    public long TakeSuppressed()
    {
        lock (_lock)
        {
            return Roll();
        }
    }

    private long Roll()
    {
        long now = _clock.GetTimestamp();
        if (now - _windowStart < _windowTicks)
        {
            return 0;
        }

        _windowStart = now;
        _written = 0;
        long suppressed = _suppressed;
        _suppressed = 0;
        return suppressed;
    }
}
