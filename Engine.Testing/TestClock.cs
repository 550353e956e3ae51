using System.Collections.Concurrent;
using Engine.Inspection;
using Microsoft.Extensions.Time.Testing;

namespace Engine.Testing;

/// <summary>
/// The harness's clock: a <see cref="FakeTimeProvider"/> that also knows every timer created on it
/// and when it is due, and registers every stage, batch stage and periodic loop built on it, so
/// <see cref="EngineHarness"/> can tell when nothing can happen until time moves. Move it with
/// <see cref="EngineHarness.AdvanceAsync"/>, which fires timers in due order and runs until idle after
/// each; <see cref="FakeTimeProvider.Advance"/> moves it too, but does not wait for what the timers start.
/// </summary>
public sealed class TestClock : FakeTimeProvider, IWatchingClock
{
    private readonly ConcurrentDictionary<WatchedTimer, byte> _armed = new(ReferenceEqualityComparer.Instance);
    private readonly List<IWatchedPart> _parts = [];
    private readonly Lock _partsLock = new();
    private readonly Random _jitter;
    private int _firing;

    /// <summary>Creates a clock that starts at <paramref name="start"/>.</summary>
    /// <param name="start">The clock's first reading.</param>
    /// <param name="seed">Seeds the jitter of retries of stages built on this clock, so their backoffs repeat from run to run.</param>
    public TestClock(DateTimeOffset start, int seed = 0)
        : base(start) => _jitter = new Random(seed);

    /// <summary>When the earliest armed timer of the clock fires, or null when none is armed.</summary>
    public DateTimeOffset? NextTimerDue
    {
        get
        {
            DateTimeOffset? next = null;
            foreach (WatchedTimer timer in _armed.Keys)
            {
                if (timer.Due is { } due && (next is null || due < next))
                {
                    next = due;
                }
            }

            return next;
        }
    }

    /// <summary>How many timers are armed now.</summary>
    public int ArmedTimers => _armed.Count;

    /// <inheritdoc/>
    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        ArgumentNullException.ThrowIfNull(callback);
        var timer = new WatchedTimer(this, callback, state, WatchedRun.Current);
        timer.Inner = base.CreateTimer(static s => ((WatchedTimer)s!).Fire(), timer, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        timer.Change(dueTime, period);
        return timer;
    }

    /// <summary>Whether a timer callback is running now.</summary>
    internal bool IsFiring => Volatile.Read(ref _firing) > 0;

    /// <summary>The parts built on this clock so far, in the order they were built.</summary>
    internal IWatchedPart[] Parts
    {
        get
        {
            lock (_partsLock)
            {
                return [.. _parts];
            }
        }
    }

    void IWatchingClock.Watch(IWatchedPart part)
    {
        lock (_partsLock)
        {
            _parts.Add(part);
        }
    }

    double IWatchingClock.NextJitter()
    {
        lock (_jitter)
        {
            return _jitter.NextDouble();
        }
    }

    /// <summary>Whether an armed timer is due now or earlier (the fake clock fires those on its next move).</summary>
    internal bool HasDueTimer()
    {
        DateTimeOffset now = GetUtcNow();
        return NextTimerDue is { } next && next <= now;
    }

    internal void SetArmed(WatchedTimer timer, bool armed)
    {
        if (armed)
        {
            _armed.TryAdd(timer, 0);
        }
        else
        {
            _armed.TryRemove(timer, out _);
        }
    }

    internal void Firing(int delta) => Interlocked.Add(ref _firing, delta);
}
