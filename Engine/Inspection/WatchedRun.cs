using System.Diagnostics;

namespace Engine.Inspection;

/// <summary>
/// One handler run of a watched stage, from the call of the handler until the task it returned
/// completes. While it runs it is the <see cref="Current"/> run of its execution flow, so a timer the
/// handler creates on the watching clock (<c>Task.Delay(d, clock)</c>) is known to be the run's:
/// a run with a timer of the clock pending waits for the clock, not for something else.
/// </summary>
[DebuggerDisplay("{Stage} shard {Shard} key {Key}: clock waits = {_clockWaits}, waits for room = {WaitsForRoom}")]
internal sealed class WatchedRun
{
    private static readonly AsyncLocal<WatchedRun?> CurrentRun = new();

    /// <summary>Timers of the watching clock this run created that have neither fired nor been disposed.</summary>
    private int _clockWaits;

    /// <summary>The write of this run (forwarding its output) that waits for room in a watched stage; null when none does.</summary>
    private Task? _roomWait;

    public WatchedRun(string stage, int shard, string? key, int attempt, DateTimeOffset startedAt)
    {
        Stage = stage;
        Shard = shard;
        Key = key;
        Attempt = attempt;
        StartedAt = startedAt;
        RealStart = Stopwatch.GetTimestamp();
    }

    /// <summary>The run of the current execution flow, if the flow is inside a watched handler.</summary>
    public static WatchedRun? Current
    {
        get => CurrentRun.Value;
        set => CurrentRun.Value = value;
    }

    public string Stage { get; }

    public int Shard { get; }

    /// <summary>The item's key as text; null for an unkeyed item.</summary>
    public string? Key { get; }

    /// <summary>Which attempt this is (1 the first time); 0 when the handler kind does not say.</summary>
    public int Attempt { get; }

    /// <summary>When the run started, on the watching clock.</summary>
    public DateTimeOffset StartedAt { get; }

    /// <summary>When the run started, in <see cref="Stopwatch"/> ticks (real time, for "stuck for …" messages).</summary>
    public long RealStart { get; }

    /// <summary>Whether the run waits for a timer of the watching clock.</summary>
    public bool WaitsForClock => Volatile.Read(ref _clockWaits) > 0;

    /// <summary>
    /// Whether the run waits for a write into a full watched stage: that stage's own state then says
    /// whether anything can happen (its runs are busy) or only the clock can free room.
    /// </summary>
    /// <remarks>
    /// Read from the write's task, not from a flag the write clears: the task completes the moment the
    /// write gets in, before the run's continuation runs, so a run about to go on never reads as waiting.
    /// </remarks>
    public bool WaitsForRoom => Volatile.Read(ref _roomWait) is { IsCompleted: false };

    /// <summary>A write of this run waits for room until <paramref name="write"/> completes (a run forwards one output at a time).</summary>
    public void WaitForRoom(Task write) => Volatile.Write(ref _roomWait, write);

    /// <summary>A timer of the watching clock was created in this run's flow.</summary>
    public void ClockWaitStarted() => Interlocked.Increment(ref _clockWaits);

    /// <summary>One of the run's timers fired or was disposed (called once per timer).</summary>
    public void ClockWaitEnded()
    {
        int left = Interlocked.Decrement(ref _clockWaits);
        Debug.Assert(left >= 0, "a run's clock waits end once each");
    }
}
