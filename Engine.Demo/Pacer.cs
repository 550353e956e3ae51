using System.Diagnostics;

namespace Engine.Demo;

/// <summary>
/// Paces a producer at a fixed rate: item n (counted from 0) is due <c>n / rate</c> seconds after the
/// pacer started, and <see cref="DelayBefore"/> says how long to wait for it. Behind schedule the wait
/// is zero, so a producer that fell behind catches up at full speed instead of sleeping.
/// </summary>
/// <remarks>
/// The wait is computed from one clock read. The demo once compared the clock with the due time and
/// then subtracted a second read from it: a thread descheduled between the two reads for 1 to 2 ms got a
/// negative span that <see cref="Task.Delay(TimeSpan)"/> truncates to -1 ms, which is
/// <see cref="Timeout.InfiniteTimeSpan"/>, and the producer stopped for good (issue 29).
/// </remarks>
[DebuggerDisplay("Rate = {_rate}/s")]
internal sealed class Pacer
{
    /// <summary>The clock the due times are measured on.</summary>
    private readonly TimeProvider _clock;

    /// <summary>The clock's timestamp when the pacer was created: item 0's due time.</summary>
    private readonly long _started;

    /// <summary>Items per second; 0 = unpaced.</summary>
    private readonly int _rate;

    /// <summary>Starts the schedule now.</summary>
    /// <param name="rate">Items per second; 0 means unpaced (never wait).</param>
    /// <param name="clock">The clock to measure on.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="rate"/> is negative.</exception>
    public Pacer(int rate, TimeProvider clock)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rate);
        ArgumentNullException.ThrowIfNull(clock);
        _rate = rate;
        _clock = clock;
        _started = clock.GetTimestamp();
    }

    /// <summary>
    /// How long to wait before item <paramref name="item"/> (counted from 0): the time left until it is
    /// due, or <see cref="TimeSpan.Zero"/> when it is already due or the pacer is unpaced. Never negative
    /// and never infinite, however late the calling thread runs.
    /// </summary>
    public TimeSpan DelayBefore(long item)
    {
        Debug.Assert(item >= 0, "items are counted from 0");
        if (_rate == 0)
        {
            return TimeSpan.Zero;
        }

        // Ticks of the due time from the rate, not from a per-item TimeSpan multiplied up: 1/rate
        // rounded to whole ticks would drift by up to a tick per item.
        TimeSpan due = TimeSpan.FromTicks((long)(item * (double)TimeSpan.TicksPerSecond / _rate));
        TimeSpan left = due - _clock.GetElapsedTime(_started);
        return left > TimeSpan.Zero ? left : TimeSpan.Zero;
    }

    /// <summary>Waits until item <paramref name="item"/> is due; completes at once when it already is.</summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled during the wait.</exception>
    public Task WaitAsync(long item, CancellationToken cancellationToken)
    {
        TimeSpan delay = DelayBefore(item);
        Debug.Assert(delay >= TimeSpan.Zero && delay != Timeout.InfiniteTimeSpan, "a pacing delay is finite and not negative");
        return delay == TimeSpan.Zero ? Task.CompletedTask : Task.Delay(delay, _clock, cancellationToken);
    }
}
