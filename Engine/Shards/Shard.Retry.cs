using System.Diagnostics;
using Engine.Internal;

namespace Engine.Shards;

/// <summary>Retries: a failed item waits for its backoff in <see cref="RetryTimers{T}"/> while its key stays busy.</summary>
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
    /// Schedules a retry of an item whose handler failed transiently (or, for another
    /// <paramref name="reason"/>, a timed hold after <paramref name="delay"/>: see <c>Shard.Timed.cs</c>).
    /// The worker goes on with other keys; the item's key stays busy, so the key's later items wait
    /// behind the retry.
    /// </summary>
    private void ScheduleRetry(in Envelope<T> envelope, HoldReason reason = HoldReason.Retry, TimeSpan delay = default)
    {
        PendingRetry<T>? retry = null;
        lock (_lock)
        {
            AssertLocked();
            if (!_runtime.IsAborted)
            {
                Envelope<T> waiting = envelope;
                if (_trackKeys && !envelope.Key.IsNone && (envelope.Flags & EnvelopeFlags.KeyClaimed) == 0)
                {
                    // It ran unclaimed (see ClaimsOnDemand): the key becomes busy now, for the retry.
                    Debug.Assert(_claimOnDemand, "only a shard that claims on demand runs an item without its key");
                    _ = _scheduler.ClaimFree(in envelope.Key);
                    waiting.Flags |= EnvelopeFlags.KeyClaimed;
                }

                if (reason != HoldReason.Retry)
                {
                    retry = AddHoldLocked(in waiting, reason, _runtime.TimeProvider.GetTimestamp() + Ticks(delay));
                }
                else
                {
                    retry = _retryTimers.Add(in waiting);
                    if (_scheduler.Find(envelope.Key) is { } state)
                    {
                        state.Retry = retry;
                    }
                }
            }
        }

        if (retry is null)
        {
            Release(in envelope, null);
            Abandon();
            return;
        }

        if (reason == HoldReason.Retry)
        {
            Interlocked.Increment(ref Counters.Retries);
            delay = _runtime.Retry.Delay(envelope.Attempts, _runtime.Jitter());
        }

        _retryTimers.Start(retry, delay);
    }

    /// <summary>A retry's backoff ended (on the timer's thread): the item becomes ready, ahead of its key's later items.</summary>
    private void OnRetryDue(PendingRetry<T> retry)
    {
        if (retry.Reason != HoldReason.Retry)
        {
            OnHoldDue(retry);
            return;
        }

        bool abandon;
        lock (_lock)
        {
            AssertLocked();
            _retryTimers.Remove(retry);
            if (_scheduler.Find(retry.Envelope.Key) is { } state && state.Retry == retry)
            {
                state.Retry = null;
            }

            abandon = _runtime.IsAborted;
            if (!abandon)
            {
                // The key is still busy (a retry keeps it), so the retry runs before the key's later items.
                _scheduler.EnqueueReady(in retry.Envelope);
            }
        }

        if (abandon)
        {
            Release(in retry.Envelope, null);
            Abandon();
        }

        // A timer thread is no worker: start one for what became ready (the retry, or after an abort
        // the key's next item, which the loop then abandons).
        EnsureLoop();
    }
}
