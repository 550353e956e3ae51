using Engine.Inspection;
using Engine.Shards;

namespace Engine.Stages;

/// <summary>The stage's part in <c>Engine.Testing</c>: on a watching clock it is inspected as a whole.</summary>
public sealed partial class Stage<T> : IWatchedPart
{
    /// <summary>What the harness sees of the stage's runs and callbacks; null unless the stage's clock watches (see <see cref="IWatchingClock"/>).</summary>
    internal RunWatch<T>? Watch => _watch;

    string? IWatchedPart.Pipeline => _runtime.PipelineName;

    /// <summary>
    /// Adds one entry per thing the stage holds. Busy: a run that waits for neither the clock nor room
    /// downstream, a loop between runs, items a free worker is about to take, a write or callback
    /// under way. Waiting for the clock: runs waiting on a timer of the clock or for room in a full
    /// stage, items waiting for a retry's backoff or for their time, items queued behind workers that all wait.
    /// </summary>
    void IWatchedPart.Inspect(List<PartState> into)
    {
        if (_watch is null || Completion.IsCompleted)
        {
            return;
        }

        string? pipeline = _runtime.PipelineName;
        var runsByShard = new List<WatchedRun>[_shards.Length];
        foreach (WatchedRun run in _watch.Running)
        {
            (runsByShard[run.Shard] ??= []).Add(run);
        }

        for (int i = 0; i < _shards.Length; i++)
        {
            ShardActivity shard = _shards[i].Inspect();
            List<WatchedRun> runs = runsByShard[i] ?? [];
            int waitingRuns = 0;
            foreach (WatchedRun run in runs)
            {
                bool waits = run.WaitsForClock || run.WaitsForRoom;
                waitingRuns += waits ? 1 : 0;
                string attempt = run.Attempt > 0 ? $" (attempt {run.Attempt})" : "";
                string what = run.WaitsForClock
                    ? $"in the handler since {run.StartedAt:HH:mm:ss.fff}{attempt}, waiting for a timer of the clock"
                    : run.WaitsForRoom
                        ? $"in the handler since {run.StartedAt:HH:mm:ss.fff}{attempt}, waiting for room in a full stage downstream"
                        : $"in the handler since {run.StartedAt:HH:mm:ss.fff}{attempt} on the clock ({System.Diagnostics.Stopwatch.GetElapsedTime(run.RealStart).TotalSeconds:F1} s of real time), waiting for something other than the clock";
                into.Add(new PartState(pipeline, Name, i, run.Key, what, !waits) { SaysItWaitsForRoom = run.WaitsForRoom && !run.WaitsForClock ? 1 : 0 });
            }

            // Every loop is inside a run that waits: nothing more can start until one of them ends.
            bool workersWait = shard.Loops == runs.Count && waitingRuns == runs.Count;
            bool allWorkersWait = workersWait && shard.Loops == shard.MaxLoops;
            if (shard.Loops > runs.Count)
            {
                into.Add(new PartState(pipeline, Name, i, null, $"{shard.Loops - runs.Count} worker loop(s) running between handler runs", true));
            }

            if (shard.Channel > 0)
            {
                bool waits = allWorkersWait || (shard.HoldLimitReached && workersWait);
                into.Add(new PartState(pipeline, Name, i, shard.FirstKey, waits
                    ? $"{shard.Channel} item(s) in the channel (first key '{shard.FirstKey}'), behind workers that all wait"
                    : $"{shard.Channel} item(s) in the channel (first key '{shard.FirstKey}') for a worker to take", !waits));
            }

            if (shard.Ready > 0)
            {
                into.Add(new PartState(pipeline, Name, i, null, allWorkersWait
                    ? $"{shard.Ready} item(s) ready to run, behind workers that all wait"
                    : $"{shard.Ready} item(s) ready to run for a worker to take", !allWorkersWait));
            }

            foreach ((string? key, int attempts, HoldReason reason) in shard.Retrying)
            {
                string what = reason == HoldReason.Retry
                    ? $"waiting for its retry's backoff (attempt {attempts} failed)"
                    : $"waiting for its time ({reason.ToString().ToLowerInvariant()})";
                into.Add(new PartState(pipeline, Name, i, key, what, false));
            }

            if (shard.Parked > 0)
            {
                into.Add(new PartState(pipeline, Name, i, null, $"{shard.Parked} item(s) parked behind their key's running or retrying item", false));
            }

            if (shard.BlockedWriters > 0)
            {
                // A waiting write is woken when a worker takes an item, and writes on a continuation of
                // its own: until then it still counts as waiting while the room it will take is free.
                bool roomFree = shard.Channel < _runtime.Capacity;
                into.Add(new PartState(pipeline, Name, i, null, roomFree
                    ? $"{shard.BlockedWriters} write(s) that waited for room, about to take it"
                    : $"{shard.BlockedWriters} write(s) waiting for room (capacity {_runtime.Capacity})", roomFree)
                {
                    WritesWaitingForRoom = roomFree ? 0 : shard.BlockedWriters,
                });
            }

            if (shard.OpenCounts != 0)
            {
                into.Add(new PartState(pipeline, Name, i, null, $"a write or a callback under way ({shard.OpenCounts} open count(s))", true));
            }
        }
    }
}
