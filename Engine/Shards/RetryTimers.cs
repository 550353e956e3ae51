using System.Diagnostics;

namespace Engine.Shards;

/// <summary>
/// A shard's items waiting for a retry's backoff: one timer each on the stage's clock, cancelled
/// together by an abort. Exactly one of the timer and a cancellation wins each retry
/// (<see cref="PendingRetry{T}.TryClaim"/>), so an item is re-run or given up, never both. The
/// mutating calls run under the shard's lock (asserted); <see cref="Start"/> runs outside it, because
/// a fake clock may fire a due timer inside <see cref="TimeProvider.CreateTimer"/>, and the callback
/// takes the lock.
/// </summary>
[DebuggerDisplay("Pending = {_count}")]
internal sealed class RetryTimers<T>
{
    /// <summary>The shard's lock, held around every mutating call (checked in debug builds).</summary>
    private readonly Lock _owner;

    private readonly TimeProvider _clock;

    /// <summary>Called on the timer's thread, without the lock, for a retry whose backoff ended and that nobody cancelled.</summary>
    private readonly Action<PendingRetry<T>> _due;

    /// <summary>Retries whose timer has not fired, so an abort can cancel them.</summary>
    private readonly HashSet<PendingRetry<T>> _pending = [];

    /// <summary>Mirror of <see cref="_pending"/>' count, written under the lock, read without it.</summary>
    private int _count;

    public RetryTimers(Lock owner, TimeProvider clock, Action<PendingRetry<T>> due)
    {
        _owner = owner;
        _clock = clock;
        _due = due;
    }

    /// <summary>Retries waiting now; readable without the lock.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Retries whose timer has not fired, for inspection (<see cref="Shard{T}.Inspect"/>). Under the lock.</summary>
    public IReadOnlyCollection<PendingRetry<T>> Pending
    {
        get
        {
            AssertOwned();
            return _pending;
        }
    }

    /// <summary>Registers a retry of <paramref name="envelope"/>; start its timer with <see cref="Start"/> once the lock is released.</summary>
    public PendingRetry<T> Add(in Envelope<T> envelope)
    {
        AssertOwned();
        var retry = new PendingRetry<T>(this, envelope);
        _pending.Add(retry);
        _count++;
        return retry;
    }

    /// <summary>Starts a registered retry's timer. Outside the lock.</summary>
    public void Start(PendingRetry<T> retry, TimeSpan delay)
    {
        ITimer timer = _clock.CreateTimer(static state => OnTimer((PendingRetry<T>)state!), retry, delay, Timeout.InfiniteTimeSpan);
        retry.Timer = timer;
        if (Volatile.Read(ref retry.State) != PendingRetry<T>.Pending)
        {
            // The timer fired, or the retry was cancelled, before the timer was assigned: nobody else
            // will dispose it.
            timer.Dispose();
        }
    }

    /// <summary>Forgets a retry whose timer fired (an abort may have swept it already).</summary>
    /// <returns>Whether it was still registered.</returns>
    public bool Remove(PendingRetry<T> retry)
    {
        AssertOwned();
        if (!_pending.Remove(retry))
        {
            return false;
        }

        _count--;
        return true;
    }

    /// <summary>Cancels one retry (a newer item made it stale) unless its timer fired first.</summary>
    /// <returns>Whether this call cancelled it.</returns>
    public bool TryCancel(PendingRetry<T> retry)
    {
        AssertOwned();
        if (!retry.TryClaim(PendingRetry<T>.Cancelled))
        {
            return false;
        }

        retry.Timer?.Dispose();
        Remove(retry);
        return true;
    }

    /// <summary>Cancels every retry whose timer has not fired (an abort).</summary>
    /// <returns>How many were cancelled; each of their items is the caller's to give up.</returns>
    public int CancelAll()
    {
        AssertOwned();
        int cancelled = 0;
        foreach (PendingRetry<T> retry in _pending)
        {
            if (retry.TryClaim(PendingRetry<T>.Cancelled))
            {
                retry.Timer?.Dispose();
                cancelled++;
            }
        }

        _pending.Clear();
        _count = 0;
        return cancelled;
    }

    private static void OnTimer(PendingRetry<T> retry)
    {
        if (!retry.TryClaim(PendingRetry<T>.Fired))
        {
            return;
        }

        retry.Timer?.Dispose();
        retry.Owner._due(retry);
    }

    [Conditional("DEBUG")]
    private void AssertOwned()
    {
        Debug.Assert(_owner.IsHeldByCurrentThread, "the retry timers are changed under their shard's lock");
        Debug.Assert(_count == _pending.Count, "the count mirrors the pending set");
    }
}
