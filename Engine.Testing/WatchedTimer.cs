using System.Diagnostics;
using Engine.Inspection;

namespace Engine.Testing;

/// <summary>
/// A timer of the <see cref="TestClock"/>: the fake clock's own timer underneath, plus when it is due
/// (so the harness can advance to it) and, when a handler run created it, that run's wait for the
/// clock (so the harness knows the run waits for time, not for something else).
/// </summary>
[DebuggerDisplay("Due = {_dueTicks}, Period = {_period}")]
internal sealed class WatchedTimer : ITimer
{
    private readonly TestClock _clock;
    private readonly TimerCallback _callback;
    private readonly object? _state;

    /// <summary>The handler run whose flow created the timer; null for the engine's own timers.</summary>
    private readonly WatchedRun? _run;
    private readonly Lock _lock = new();

    /// <summary>When it fires next (<see cref="DateTimeOffset.UtcTicks"/>); <see cref="long.MaxValue"/> while not armed.</summary>
    private long _dueTicks = long.MaxValue;
    private TimeSpan _period = Timeout.InfiniteTimeSpan;
    private bool _disposed;

    /// <summary>Whether <see cref="_run"/> counts this timer as one of its waits now.</summary>
    private bool _runWaits;

    public WatchedTimer(TestClock clock, TimerCallback callback, object? state, WatchedRun? run)
    {
        _clock = clock;
        _callback = callback;
        _state = state;
        _run = run;
    }

    /// <summary>The fake clock's timer underneath; set once, right after creation.</summary>
    public ITimer? Inner { get; set; }

    /// <summary>When it fires next, or null while it is not armed.</summary>
    public DateTimeOffset? Due
    {
        get
        {
            long due = Volatile.Read(ref _dueTicks);
            return due == long.MaxValue ? null : new DateTimeOffset(due, TimeSpan.Zero);
        }
    }

    /// <summary>The run that created it, or null.</summary>
    public WatchedRun? Run => _run;

    public bool Change(TimeSpan dueTime, TimeSpan period)
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return false;
            }

            _period = period;
            Arm(dueTime == Timeout.InfiniteTimeSpan ? long.MaxValue : (_clock.GetUtcNow() + dueTime).UtcTicks);
        }

        // Outside the lock: the fake clock fires a timer that is already due inside Change.
        return Inner!.Change(dueTime, period);
    }

    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            Arm(long.MaxValue);
        }

        Inner?.Dispose();
    }

    public ValueTask DisposeAsync()
    {
        Dispose();
        return default;
    }

    /// <summary>The fake clock fired the timer underneath: note when it fires next, then run the callback.</summary>
    public void Fire()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            bool periodic = _period != Timeout.InfiniteTimeSpan && _period > TimeSpan.Zero;
            Arm(periodic ? Volatile.Read(ref _dueTicks) + _period.Ticks : long.MaxValue);
        }

        _clock.Firing(+1);
        try
        {
            _callback(_state);
        }
        finally
        {
            _clock.Firing(-1);
        }
    }

    /// <summary>Sets the due time, keeps the clock's armed set and the run's wait in step with it. Under the lock.</summary>
    private void Arm(long dueTicks)
    {
        Debug.Assert(_lock.IsHeldByCurrentThread, "a timer is re-armed under its lock");
        Volatile.Write(ref _dueTicks, dueTicks);
        bool armed = dueTicks != long.MaxValue;
        _clock.SetArmed(this, armed);
        if (_run is not null && armed != _runWaits)
        {
            _runWaits = armed;
            if (armed)
            {
                _run.ClockWaitStarted();
            }
            else
            {
                _run.ClockWaitEnded();
            }
        }
    }
}
