using System.Diagnostics;
using Engine.Dedupe;
using Engine.Internal;
using Engine.RateLimits;
using Engine.Routing;
using Engine.Timing;

namespace Engine.Shards;

/// <summary>
/// Items that wait for their time (issue 26): delayed writes, a handler's requeue and deferral, a rate
/// limit's shaping and debounce. Each is the retry's mechanism made available on purpose: the item waits
/// on a timer of the stage's clock in <see cref="_retryTimers"/> (a <see cref="PendingRetry{T}"/> with
/// its <see cref="HoldReason"/>), counted in <see cref="Held"/> so the hold limit bounds it, and an
/// abort cancels it with the retries.
/// </summary>
/// <remarks>
/// <para>
/// A delayed write that keeps its key's order goes through the channel like any write (so it takes its
/// place behind the key's items already written, under the channel's backpressure), flagged
/// <see cref="EnvelopeFlags.Delayed"/> with its due time as its <see cref="Envelope{T}.AcceptedTimestamp"/>.
/// When a worker claims its key for it before it is due (<see cref="HoldTakenLocked"/>), or its key's
/// turn comes to it in the backlog (<see cref="OnDelayedTurn"/>), it waits on a timer with the key busy,
/// so the key's later items wait behind it. A delayed write that lets later items overtake, one in the
/// unkeyed shard or in an evicting full mode, and a debounce, are held off the channel at once and
/// join the key's order when due; at most <see cref="_holdLimit"/> of them per shard (writers wait).
/// </para>
/// <para>
/// None of this touches the plain write or take: a delayed item is recognised by its flag where a
/// tracked shard claims or parks it, and a requeue, deferral or rate-limit hold on a run's failure
/// path (<see cref="Settle"/>).
/// </para>
/// </remarks>
internal sealed partial class Shard<T>
{
    /// <summary>Holds on <see cref="_retryTimers"/> that are delays, not retries or deferrals (see <see cref="IsDelay"/>). Under <see cref="_lock"/>.</summary>
    private int _delayedOnTimers;

    /// <summary>
    /// Delayed items in the channel (flagged <see cref="EnvelopeFlags.Delayed"/>): counted just before
    /// their channel write and uncounted when a worker takes them, so never below the true figure.
    /// </summary>
    private int _delayedInChannel;

    /// <summary>Delayed items parked behind their busy key (flagged <see cref="EnvelopeFlags.Delayed"/>). Under <see cref="_lock"/>.</summary>
    private int _delayedParked;

    /// <summary>
    /// Items held off the channel by delayed and debounced writes, not yet due. A write waits (or is
    /// refused, by the full mode) while there are <see cref="_holdLimit"/> of them. Under <see cref="_lock"/>.
    /// </summary>
    private int _delayedWrites;

    /// <summary>Completed when a delayed write may find room (or the shard completes); null when nobody waits. Under <see cref="_lock"/>.</summary>
    private TaskCompletionSource? _delayRoom;

    /// <summary>Debounced holds by dedupe key; null until the first. Under <see cref="_lock"/>.</summary>
    private Dictionary<ItemKey, PendingRetry<T>>? _debouncing;

    /// <summary>Whether a hold of this reason counts as delayed (a retry and a deferral count as waiting for retry).</summary>
    private static bool IsDelay(HoldReason reason) => reason is not (HoldReason.Retry or HoldReason.Defer);

    /// <summary>
    /// The delayed and waiting-for-retry parts of the shard's depth. Under <see cref="_lock"/>.
    /// </summary>
    private (int Delayed, int Retrying) TimedDepthLocked()
    {
        AssertLocked();
        return (_delayedOnTimers + _delayedParked + Volatile.Read(ref _delayedInChannel), _retryTimers.Count - _delayedOnTimers);
    }

    /// <summary>
    /// One attempt of a delayed or debounced write, never waiting (see the type's remarks for the two
    /// ways). On <see cref="WriteOutcome.Full"/> with <paramref name="willWait"/>, the caller waits with
    /// <paramref name="waitWith"/> as for any write when <paramref name="room"/> is null, else for
    /// <paramref name="room"/> and tries again.
    /// </summary>
    /// <param name="envelope">The item (a dedupe stage fills it from <paramref name="write"/>).</param>
    /// <param name="write">The dedupe description, when <paramref name="deduped"/>.</param>
    /// <param name="deduped">Whether the item goes through the dedupe index.</param>
    /// <param name="due">When it may run (<see cref="TimeProvider.GetTimestamp"/> ticks).</param>
    /// <param name="debounce">A debounce write: due is the quiet period's end, and the item joins its key when due.</param>
    /// <param name="willWait">The caller waits for room on <see cref="WriteOutcome.Full"/>.</param>
    /// <param name="room">See above.</param>
    /// <param name="waitWith">See above.</param>
    /// <exception cref="ArgumentException">The dedupe key does not refine the routing key, or the merge function threw; the item was not accepted.</exception>
    public WriteOutcome TryWriteTimed(in Envelope<T> envelope, in DedupeWrite<T> write, bool deduped, long due, bool debounce, bool willWait, out Task? room, out Envelope<T> waitWith)
    {
        room = null;
        waitWith = default;
        ItemKey key = deduped ? write.RoutingKey : envelope.Key;
        bool inOrder = !debounce && _trackKeys && !key.IsNone && _runtime.Delays is { LaterItemsOvertake: false } &&
            _runtime.FullMode is not (StageFullMode.DropOldest or StageFullMode.DropNewest);
        if (inOrder)
        {
            Envelope<T> flagged = envelope;
            flagged.AcceptedTimestamp = due;
            flagged.Flags |= EnvelopeFlags.Delayed;
            if (!deduped)
            {
                Interlocked.Increment(ref _delayedInChannel);
                WriteOutcome plain = TryWrite(in flagged, willWait);
                if (plain == WriteOutcome.Accepted)
                {
                    Interlocked.Increment(ref Counters.Delayed);
                }
                else
                {
                    Interlocked.Decrement(ref _delayedInChannel);
                }

                waitWith = flagged;
                return plain;
            }

            return TryWriteDeduped(in write, flagged.EntryTimestamp, due, willWait, out waitWith, delayed: true);
        }

        return TryHoldWrite(in envelope, in write, deduped, due, debounce, willWait, out room);
    }

    /// <summary>A delayed write of a dedupe stage enters the channel (see <see cref="TryWriteDeduped"/>): flagged, its slot marked delayed (a replace of it is counted so). Under <see cref="_lock"/>.</summary>
    private void MarkDelayedLocked(ref Envelope<T> envelope)
    {
        AssertLocked();
        envelope.Flags |= EnvelopeFlags.Delayed;
        envelope.Slot!.State = SlotState.Delayed;
    }

    /// <summary>A delayed write of a dedupe stage got into the channel. Under <see cref="_lock"/>.</summary>
    private void CountDelayedWrittenLocked()
    {
        AssertLocked();
        Interlocked.Increment(ref Counters.Delayed);
        CountDelayedInChannelLocked();
    }

    /// <summary>
    /// A delayed write held off the channel (it lets later items overtake, or the shard is unkeyed or
    /// evicts, or it is a debounce): accepted now and held until due, unless <see cref="_holdLimit"/>
    /// such items wait already. In a dedupe stage a waiting item of the same dedupe key is replaced
    /// in place instead (it keeps its time; a debounce's quiet period starts again).
    /// </summary>
    private WriteOutcome TryHoldWrite(in Envelope<T> envelope, in DedupeWrite<T> write, bool deduped, long due, bool debounce, bool willWait, out Task? room)
    {
        room = null;
        BeginWrite();
        PendingRetry<T>? start = null;
        bool accepted = false;
        bool ready = false;
        try
        {
            lock (_lock)
            {
                AssertLocked();
                if (_completing)
                {
                    AbandonWrite(slot: null, refused: true);
                    return WriteOutcome.Closed;
                }

                if (deduped && _index!.TryGetWaiting(write.DedupeKey, out DedupeSlot<T>? waiting))
                {
                    // Accepted without entering the channel: the write's hold becomes the item's count.
                    ReplaceLocked(waiting, in write);
                    Interlocked.Increment(ref Counters.AcceptedOutsideChannel);
                    return WriteOutcome.Accepted;
                }

                if (_delayedWrites >= _holdLimit)
                {
                    if (willWait)
                    {
                        room = (_delayRoom ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
                    }
                }
                else
                {
                    Envelope<T> held = envelope;
                    if (deduped)
                    {
                        DedupeSlot<T> slot = _index!.Rent(in write);
                        _index.Register(slot);
                        slot.State = SlotState.Delayed;
                        held = new Envelope<T>(default!, write.RoutingKey, envelope.EntryTimestamp, envelope.AcceptedTimestamp) { Slot = slot };
                    }

                    Interlocked.Increment(ref Counters.AcceptedOutsideChannel);
                    Interlocked.Increment(ref Counters.Delayed);
                    start = HoldWrittenLocked(held, due, debounce, out ready);
                    accepted = true;
                }
            }
        }
        catch (ArgumentException)
        {
            AbandonWrite(slot: null, refused: true);
            throw;
        }
        finally
        {
            FlushDeferred();
        }

        if (!accepted)
        {
            EndWrite();
            if (willWait)
            {
                return WriteOutcome.Full;
            }

            // Refused, or dropped by DropWrite.
            return OnWriteFailed(deduped ? write.Item : envelope.Item, willWait: false);
        }

        ObserveHeld(openCounts: 0);
        if (start is not null)
        {
            _retryTimers.Start(start, TimeUntil(start.Due));
        }
        else if (ready)
        {
            EnsureLoop();
        }

        return WriteOutcome.Accepted;
    }

    /// <summary>
    /// Places an item held off the channel: on a timer (returned, to start once the lock is released),
    /// or in its key's order at once when already due. Under <see cref="_lock"/>.
    /// </summary>
    private PendingRetry<T>? HoldWrittenLocked(Envelope<T> envelope, long due, bool debounce, out bool ready)
    {
        AssertLocked();
        ready = false;
        long now = _runtime.TimeProvider.GetTimestamp();
        if (due <= now && !debounce)
        {
            ready = JoinKeyLocked(in envelope);
            return null;
        }

        _delayedWrites++;
        PendingRetry<T> hold = AddHoldLocked(in envelope, debounce ? HoldReason.Debounce : HoldReason.Delay, due);
        hold.JoinsKeyWhenDue = true;
        if (debounce)
        {
            hold.Since = now;
            (_debouncing ??= [])[envelope.Slot!.DedupeKey] = hold;
        }

        return hold;
    }

    /// <summary>A waiting delayed write's attempt (non-dedupe): counted in the channel before it can be taken from it.</summary>
    private bool TryWriteWaitedDelayed(in Envelope<T> envelope)
    {
        Interlocked.Increment(ref _delayedInChannel);
        if (TryWriteChannel(in envelope))
        {
            return true;
        }

        Interlocked.Decrement(ref _delayedInChannel);
        return false;
    }

    /// <summary>A delayed item entered the channel under the lock (which every take of a tracked shard holds). Under <see cref="_lock"/>.</summary>
    private void CountDelayedInChannelLocked()
    {
        AssertLocked();
        Interlocked.Increment(ref _delayedInChannel);
    }

    /// <summary>A worker took a delayed item from the channel and claimed its key (see <see cref="HoldTakenLocked"/>). Under <see cref="_lock"/>.</summary>
    private bool TakenDelayedLocked(ref Envelope<T> envelope)
    {
        AssertLocked();
        Interlocked.Decrement(ref _delayedInChannel);
        return HoldTakenLocked(ref envelope);
    }

    /// <summary>
    /// A worker claimed its key for a delayed item it took from the channel: when the item is not due
    /// yet it waits on a timer with the key busy (the key's later items park behind it). The timer is
    /// started under the lock: its due time is in the future, so no clock calls back inside
    /// <see cref="TimeProvider.CreateTimer"/> (and a callback on another thread waits for the lock).
    /// </summary>
    /// <returns>Whether it is held (the worker takes something else); false when it is due and runs now.</returns>
    private bool HoldTakenLocked(ref Envelope<T> envelope)
    {
        AssertLocked();
        envelope.Flags &= ~EnvelopeFlags.Delayed;
        long due = envelope.AcceptedTimestamp;
        if (due <= _runtime.TimeProvider.GetTimestamp())
        {
            return false;
        }

        if (envelope.Slot is { } slot)
        {
            slot.State = SlotState.Delayed;
        }

        PendingRetry<T> hold = AddHoldLocked(in envelope, HoldReason.Delay, due);
        _retryTimers.Start(hold, TimeUntil(due));
        return true;
    }

    /// <summary>A delayed item parked behind its busy key: counted as delayed until its turn. Under <see cref="_lock"/>.</summary>
    private void ParkedDelayedLocked(DedupeSlot<T>? slot)
    {
        AssertLocked();
        Interlocked.Decrement(ref _delayedInChannel);
        _delayedParked++;
        if (slot is not null)
        {
            slot.State = SlotState.Delayed;
        }
    }

    /// <summary>Registers a timed hold on <see cref="_retryTimers"/> (its timer started by the caller). Under <see cref="_lock"/>.</summary>
    private PendingRetry<T> AddHoldLocked(in Envelope<T> envelope, HoldReason reason, long due)
    {
        AssertLocked();
        PendingRetry<T> hold = _retryTimers.Add(in envelope);
        hold.Reason = reason;
        hold.Due = due;
        if (IsDelay(reason))
        {
            _delayedOnTimers++;
        }

        return hold;
    }

    /// <summary>
    /// A parked delayed item's turn (called by <see cref="KeyScheduler{T}.Release"/>, the key still
    /// busy): it becomes ready when due, else it waits on a timer and the key stays busy for it (see
    /// <see cref="HoldTakenLocked"/>).
    /// </summary>
    /// <returns>Whether an item became ready.</returns>
    private bool OnDelayedTurn(KeyState<T> state, Envelope<T> envelope)
    {
        AssertLocked();
        _delayedParked--;
        envelope.Flags |= EnvelopeFlags.KeyClaimed;
        if (HoldTakenLocked(ref envelope))
        {
            return false;
        }

        EnqueueReadyLocked(in envelope);
        return true;
    }

    /// <summary>
    /// A timed hold is due (on the timer's thread; <see cref="OnRetryDue"/> hands it here). A
    /// debounce whose key was written meanwhile waits on for the rest of its quiet period; anything
    /// else becomes ready (its key still busy) or joins its key's order.
    /// </summary>
    private void OnHoldDue(PendingRetry<T> hold)
    {
        PendingRetry<T>? again = null;
        bool abandon;
        bool ready = false;
        lock (_lock)
        {
            AssertLocked();
            bool registered = _retryTimers.Remove(hold);
            if (registered && IsDelay(hold.Reason))
            {
                _delayedOnTimers--;
            }

            abandon = _runtime.IsAborted || !registered;
            if (!abandon)
            {
                long now = _runtime.TimeProvider.GetTimestamp();
                if (hold.Reason == HoldReason.Debounce && hold.Due > now)
                {
                    // Written meanwhile: the quiet period started again (never past the max wait).
                    again = AddHoldLocked(in hold.Envelope, HoldReason.Debounce, hold.Due);
                    again.Since = hold.Since;
                    again.JoinsKeyWhenDue = hold.JoinsKeyWhenDue;
                    _debouncing![hold.Envelope.Slot!.DedupeKey] = again;
                }
                else
                {
                    if (hold.JoinsKeyWhenDue)
                    {
                        // Held off the channel by a delayed or debounced write: room for another.
                        _delayedWrites--;
                        SignalDelayRoomLocked();
                    }

                    if (hold.Reason == HoldReason.Debounce)
                    {
                        _debouncing!.Remove(hold.Envelope.Slot!.DedupeKey);
                    }

                    if (hold.JoinsKeyWhenDue)
                    {
                        ready = JoinKeyLocked(in hold.Envelope);
                    }
                    else
                    {
                        // The key is still busy (the hold kept it), so the item runs before the key's later items.
                        EnqueueReadyLocked(in hold.Envelope);
                        ready = true;
                    }
                }
            }
        }

        if (again is not null)
        {
            _retryTimers.Start(again, TimeUntil(again.Due));
            return;
        }

        if (abandon)
        {
            AbandonHold(hold);
        }

        if (ready || abandon)
        {
            // A timer thread is no worker: start one for what became ready (or, after an abort, the key's next item).
            EnsureLoop();
        }
    }

    /// <summary>Gives up a hold an abort caught after its timer fired.</summary>
    private void AbandonHold(PendingRetry<T> hold)
    {
        if (hold.JoinsKeyWhenDue)
        {
            // It never claimed its key: only its slot is to return.
            if (hold.Envelope.Slot is { } slot)
            {
                lock (_lock)
                {
                    AssertLocked();
                    ReturnSlot(slot);
                }
            }
        }
        else
        {
            Release(in hold.Envelope, null);
        }

        Abandon();
    }

    /// <summary>
    /// A due item that holds no key joins its key's order: ready when the key is free (claiming it),
    /// else parked behind it. Under <see cref="_lock"/>.
    /// </summary>
    /// <returns>Whether it became ready (or a stale retry gave way and another item did).</returns>
    private bool JoinKeyLocked(in Envelope<T> envelope)
    {
        AssertLocked();
        if (_trackKeys && !envelope.Key.IsNone)
        {
            if (!_scheduler.TryClaim(in envelope, out KeyState<T>? busy))
            {
                return Parked(busy!, in envelope);
            }

            Envelope<T> claimed = envelope;
            claimed.Flags |= EnvelopeFlags.KeyClaimed;
            EnqueueReadyLocked(in claimed);
            return true;
        }

        EnqueueReadyLocked(in envelope);
        return true;
    }

    /// <summary>Queues a due item to run; a dedupe slot stays replaceable there (as an item held behind its key). Under <see cref="_lock"/>.</summary>
    private void EnqueueReadyLocked(in Envelope<T> envelope)
    {
        AssertLocked();
        if (envelope.Slot is { } slot)
        {
            slot.State = SlotState.Held;
        }

        _scheduler.EnqueueReady(in envelope);
    }

    /// <summary>Wakes delayed writes waiting for room. Under <see cref="_lock"/>.</summary>
    private void SignalDelayRoomLocked()
    {
        AssertLocked();
        if (_delayRoom is { } room)
        {
            _delayRoom = null;
            room.TrySetResult();
        }
    }

    /// <summary>The shard completes: delayed writes waiting for room try again and find it closed.</summary>
    private void OnCompletingTimed()
    {
        if (Volatile.Read(ref _delayRoom) is null)
        {
            return;
        }

        lock (_lock)
        {
            AssertLocked();
            SignalDelayRoomLocked();
        }
    }

    /// <summary>An abort cancelled every hold (with the retries) and emptied every backlog: forget their counts. Under <see cref="_lock"/>.</summary>
    private void OnAbortTimedLocked()
    {
        AssertLocked();
        _delayedOnTimers = 0;
        _delayedParked = 0;
        Volatile.Write(ref _delayedInChannel, 0);
        _delayedWrites = 0;
        _debouncing?.Clear();
        SignalDelayRoomLocked();
    }

    /// <summary>
    /// In a debounce stage, a write replaced a waiting item of its dedupe key: the key was not quiet,
    /// so its quiet period starts again, never ending past the max wait. The timer is not moved: when
    /// it fires, the hold waits on for what is left (<see cref="OnHoldDue"/>). Under <see cref="_lock"/>.
    /// </summary>
    private void OnDelayedReplacedLocked(DedupeSlot<T> slot)
    {
        AssertLocked();
        if (_runtime.Debounce is not { } debounce || _debouncing is null || !_debouncing.TryGetValue(slot.DedupeKey, out PendingRetry<T>? hold))
        {
            return;
        }

        long now = _runtime.TimeProvider.GetTimestamp();
        hold.Due = Math.Min(now + Ticks(debounce.QuietPeriod), hold.Since + Ticks(debounce.MaxWait));
    }

    /// <summary>
    /// Settles a run that asked to wait rather than failed: a requeue, a deferral, or a rate limit
    /// without a permit (shaped, or dropped). Not charged as an attempt; the key stays busy while the
    /// item waits. False for any other exception (an ordinary failure).
    /// </summary>
    private bool TrySettleTimed(ref Envelope<T> envelope, Exception error, Activity? run)
    {
        HoldReason reason;
        TimeSpan delay;
        switch (error)
        {
            case RateLimitedException { Drop: true }:
                envelope.Attempts--;
                Release(in envelope, null);
                StopRunActivity(run, Settlement.Abandoned, error);
                Drop(envelope.Item, DropReason.RateLimited);
                return true;
            case RateLimitedException limited:
                Interlocked.Increment(ref Counters.RateLimited);
                (reason, delay) = (HoldReason.RateLimit, limited.RetryAfter);
                break;
            case RequeueException requeue when _runtime.Delays is not null:
                Interlocked.Increment(ref Counters.Requeued);
                (reason, delay) = (HoldReason.Requeue, requeue.Delay);
                break;
            case DeferException defer when _runtime.Delays is not null:
                Interlocked.Increment(ref Counters.Deferred);
                (reason, delay) = (HoldReason.Defer, defer.RetryAfter);
                break;
            default:
                return false;
        }

        envelope.Attempts--;
        if (_runtime.Delays is { } delays && delay > delays.MaxDelay)
        {
            delay = delays.MaxDelay;
        }

        StopRunActivity(run, Settlement.Retrying, error);
        ScheduleRetry(in envelope, reason, delay);
        return true;
    }

    /// <summary>Counts an item a delayed write got into the channel after waiting for room.</summary>
    public void CountDelayed() => Interlocked.Increment(ref Counters.Delayed);

    /// <summary>A span of the stage's clock in its timestamp ticks.</summary>
    private long Ticks(TimeSpan span) => ClockTicks.From(_runtime.TimeProvider, span);

    /// <summary>The time from now until <paramref name="due"/> (zero when it has passed).</summary>
    private TimeSpan TimeUntil(long due)
    {
        long now = _runtime.TimeProvider.GetTimestamp();
        return due <= now ? TimeSpan.Zero : _runtime.TimeProvider.GetElapsedTime(now, due);
    }
}
