using System.Diagnostics;

namespace Engine.Shards;

/// <summary>
/// How a worker loop times its runs with metrics on: one by one, or in groups of fast runs with one
/// clock read per group (see <see cref="RunTiming"/>).
/// </summary>
internal sealed partial class Shard<T>
{
    /// <summary>
    /// Where the next run starts, for <see cref="BeginRun"/>: the group's start while runs are timed
    /// in groups (starting a group here), else the previous run's end (0: read the clock).
    /// </summary>
    private long NextRunStart(ref RunTiming timing, ShardWorker? slot, long previousEnd)
    {
        if (!timing.Grouped)
        {
            return previousEnd;
        }

        if (Volatile.Read(ref _deferredCallbackCount) > 0)
        {
            // User callbacks are about to run: close the group and time runs one by one again.
            long end = timing.Runs > 0 ? EndGroup(slot, ref timing) : 0;
            LeaveGroups(ref timing);
            return end;
        }

        if (timing.Runs == 0)
        {
            timing.Start = previousEnd != 0 ? previousEnd : _runtime.TimeProvider.GetTimestamp();
            Volatile.Write(ref _loopClock.Value, timing.Start);
        }

        return timing.Start;
    }

    /// <summary>
    /// Ends a handler run: timed alone (and counted toward grouping when fast), or as part of a group
    /// (no clock read until the group's last run). Returns when the run ended, as <see cref="EndRun"/> does.
    /// </summary>
    private long FinishRun(ref Envelope<T> envelope, Exception? error, ShardWorker? slot, long start, Activity? run, ref RunTiming timing, ref ProcessedRuns processed)
    {
        if (!timing.Grouped)
        {
            long end = EndRun(ref envelope, error, slot, start, run, ref processed);
            if (_observer is not null && end != 0)
            {
                timing.FastStreak = end - start < _fastRunTicks ? timing.FastStreak + 1 : 0;
                if (timing.FastStreak >= RunTiming.FastRunsToGroup)
                {
                    timing.Grouped = true;
                    timing.Runs = 0;
                }
            }

            return end;
        }

        timing.Runs++;
        if (error is null && timing.Runs < RunTiming.GroupSize)
        {
            // Inside a group: no clock read; the run settles as of the group's start.
            return EndRun(ref envelope, error: null, slot, timing.Start, run, ref processed, timed: false);
        }

        long groupEnd = EndGroup(slot, ref timing);
        long ended = EndRun(ref envelope, error, slot, groupEnd, run, ref processed, timed: false);
        if (ended == 0)
        {
            // Settling a failure may run user callbacks: time runs one by one again.
            LeaveGroups(ref timing);
        }

        return ended;
    }

    /// <summary>
    /// A run of a group did not complete at once (an asynchronous handler that waits): the group's
    /// earlier runs end now, and this run is timed alone from there.
    /// </summary>
    /// <returns>The run's start from now on.</returns>
    private long TimeAlone(ref RunTiming timing, ShardWorker? slot, long start)
    {
        if (!timing.Grouped)
        {
            return start;
        }

        if (timing.Runs > 0)
        {
            start = EndGroup(slot, ref timing);

            // EndGroup ended the worker's busy span; this run goes on (no wait to record again).
            _observer!.RunStarted(slot!, start, -1);
        }

        LeaveGroups(ref timing);
        return start;
    }

    /// <summary>Back to timing runs one by one; writers read the clock again.</summary>
    private void LeaveGroups(ref RunTiming timing)
    {
        timing.Grouped = false;
        timing.Runs = 0;
        timing.FastStreak = 0;
        Volatile.Write(ref _loopClock.Value, 0);
    }

    /// <summary>
    /// How a loop starts timing: in groups when the shard's previous loop ended timing in groups (one
    /// worker only: its loops run one after the other), else run by run. A worker that drains a few
    /// items and exits, over and over, would otherwise time every run alone (two clock reads per item)
    /// and never reach <see cref="RunTiming.FastRunsToGroup"/>; a group that turns out slow sends it
    /// back to timing run by run, as in a loop that never exits.
    /// </summary>
    private RunTiming StartTiming() => new() { Grouped = _resumeGrouped };

    /// <summary>The loop stops taking items: a group in progress is recorded, and writers read the clock again.</summary>
    private void StopTiming(ref RunTiming timing, ShardWorker? slot)
    {
        if (timing.Grouped && timing.Runs > 0)
        {
            _ = EndGroup(slot, ref timing);
        }

        if (_singleLoop && _observer is not null)
        {
            // Read by the next loop, which starts after this one left (the _activeLoops compare-exchange orders it).
            _resumeGrouped = timing.Grouped;
        }

        LeaveGroups(ref timing);
    }

    /// <summary>
    /// Closes a group of runs timed together: one clock read, the group's busy time and work
    /// durations recorded (see <see cref="RunTiming"/>). A group slower than a microsecond sends the
    /// loop back to timing runs one by one.
    /// </summary>
    /// <returns>When the group ended.</returns>
    private long EndGroup(ShardWorker? slot, ref RunTiming timing)
    {
        Debug.Assert(timing.Grouped && timing.Runs > 0 && _observer is not null, "a group has runs and a clock");
        long end = _runtime.TimeProvider.GetTimestamp();
        _observer!.RunsEnded(slot!, timing.Start, end, timing.Runs);
        if (end - timing.Start >= _exactGroupTicks)
        {
            timing.Grouped = false;
            timing.FastStreak = 0;
        }

        // Writers stamp with this while the loop stays grouped (see AcceptStamp).
        Volatile.Write(ref _loopClock.Value, timing.Grouped ? end : 0);

        timing.Runs = 0;
        timing.Start = end;
        return end;
    }
}
