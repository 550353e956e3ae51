using Engine.Routing;

namespace Engine.Shards;

/// <summary>The shard's part in <c>Engine.Testing</c>: one consistent look at what it holds, off the item path.</summary>
internal sealed partial class Shard<T>
{
    /// <summary>
    /// What the shard holds and runs now (see <see cref="ShardActivity"/>). Takes the shard's lock, so
    /// call it only to inspect a shard (a test harness, a debugger), never on the item path.
    /// </summary>
    public ShardActivity Inspect()
    {
        lock (_lock)
        {
            AssertLocked();
            var retrying = new List<(string?, int, HoldReason)>(_retryTimers.Count);
            foreach (PendingRetry<T> retry in _retryTimers.Pending)
            {
                retrying.Add((KeyText(retry.Envelope.Key), retry.Envelope.Attempts, retry.Reason));
            }

            int channel = _reader.Count;
            string? first = channel > 0 && _reader.CanPeek && _reader.TryPeek(out Envelope<T> head) ? KeyText(head.Key) : null;
            int ready = _scheduler.ReadyCount;
            int parked = _scheduler.Parked;
            long inFlight = Volatile.Read(ref Counters.InFlight);
            long blocked = Volatile.Read(ref _blockedWriters);

            // Outstanding counts each accepted item once until it settles and each open write (a writer
            // waiting for room, a group of writes, a dedupe write) once (see BeginWrite); whatever is
            // left over belongs to a write or a callback under way.
            long open = Outstanding - channel - ready - parked - retrying.Count - inFlight - blocked;
            return new ShardActivity
            {
                Channel = channel,
                FirstKey = first,
                Ready = ready,
                Parked = parked,
                Retrying = retrying,
                HoldLimitReached = Held >= _holdLimit,
                Loops = Volatile.Read(ref _activeLoops),
                MaxLoops = _maxLoops,
                BlockedWriters = blocked,
                InFlight = inFlight,
                OpenCounts = Volatile.Read(ref _finishedFlag) != 0 ? 0 : open,
            };
        }
    }

    private static string? KeyText(in ItemKey key) => key.IsNone ? null : key.ToString();
}
