using Engine.Internal;

namespace Engine.Shards;

/// <summary>Retries: a failed item waits for its backoff on a timer while its key stays busy.</summary>
internal sealed partial class Shard<T>
{
    private bool IsTransient(Exception error)
    {
        if (error is IPermanentFailure)
        {
            return false;
        }

        try
        {
            return _runtime.Retry.IsTransient(error);
        }
        catch (Exception)
        {
            Interlocked.Increment(ref Counters.CallbackErrors);
            return false;
        }
    }

    /// <summary>
    /// Schedules a retry of an item whose handler failed transiently. The worker goes on with other
    /// keys; the item's key stays busy, so the key's later items wait behind the retry.
    /// </summary>
    private void ScheduleRetry(in Envelope<T> envelope)
    {
        var retry = new PendingRetry<T>(this, envelope);
        bool aborted;
        lock (_lock)
        {
            AssertLocked();
            aborted = _runtime.IsAborted;
            if (!aborted)
            {
                _retries.Add(retry);
                _retrying++;
                if (_scheduler.Find(envelope.Key) is { } state)
                {
                    state.Retry = retry;
                }
            }
        }

        if (aborted)
        {
            Release(in envelope, null);
            Abandon();
            return;
        }

        Interlocked.Increment(ref Counters.Retries);

        // The timer starts outside the lock: a fake clock may run a due callback inside CreateTimer.
        TimeSpan delay = _runtime.Retry.Delay(envelope.Attempts, Random.Shared.NextDouble());
        ITimer timer = _runtime.TimeProvider.CreateTimer(static state => OnRetryDue((PendingRetry<T>)state!), retry, delay, Timeout.InfiniteTimeSpan);
        retry.Timer = timer;
        if (Volatile.Read(ref retry.State) != PendingRetry<T>.Pending)
        {
            // The timer fired, or an abort or a newer item cancelled the retry, before the timer was
            // assigned: nobody else will dispose it.
            timer.Dispose();
        }
    }

    private static void OnRetryDue(PendingRetry<T> retry)
    {
        if (!retry.TryClaim(PendingRetry<T>.Fired))
        {
            return;
        }

        retry.Timer?.Dispose();
        Shard<T> shard = retry.Shard;
        bool abandon;
        lock (shard._lock)
        {
            shard.AssertLocked();
            // An abort may have swept the set already (it then zeroed the held count).
            if (shard._retries.Remove(retry))
            {
                shard._retrying--;
            }

            if (shard._scheduler.Find(retry.Envelope.Key) is { } state && state.Retry == retry)
            {
                state.Retry = null;
            }

            abandon = shard._runtime.IsAborted;
            if (!abandon)
            {
                // The key is still busy (a retry keeps it), so the retry runs before the key's later items.
                shard._scheduler.EnqueueReady(in retry.Envelope);
            }
        }

        if (abandon)
        {
            shard.Release(in retry.Envelope, null);
            shard.Abandon();
        }

        // A timer thread is no worker: start one for what became ready (the retry, or after an abort
        // the key's next item, which the loop then abandons).
        shard.EnsureLoop();
    }
}
