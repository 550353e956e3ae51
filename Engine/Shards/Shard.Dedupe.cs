using System.Diagnostics;
using System.Threading.Channels;
using Engine.Dedupe;
using Engine.Internal;
using Engine.Routing;

namespace Engine.Shards;

/// <summary>
/// Dedupe: replace-in-place of waiting items, collapse of items whose key is busy, stale retries and
/// content dedupe. A dedupe stage moves slots (<see cref="DedupeSlot{T}"/>) through its channel so a
/// waiting payload can be replaced where it waits.
/// </summary>
internal sealed partial class Shard<T>
{
    /// <summary>The dedupe settings; null when the stage does not dedupe (or for the unkeyed shard).</summary>
    private readonly DedupePolicy<T>? _dedupe;

    /// <summary>The waiting slots, content hashes and slot pool; null when the stage does not dedupe. Under <see cref="_lock"/>.</summary>
    private readonly DedupeIndex<T>? _index;

    /// <summary>
    /// Callbacks due for items superseded or dropped while the lock was held, queued under it and run
    /// after it is released (user code never runs under the shard's lock). Reason: a
    /// <see cref="SupersedeReason"/>, or a <see cref="DropReason"/> when Drop is set. Each item keeps
    /// its outstanding count until its callback has returned (<see cref="FlushDeferred"/>), so the
    /// shard cannot finish, and <c>Completion</c> cannot complete, before every callback has run.
    /// </summary>
    private readonly Queue<(T Item, bool Drop, int Reason)> _deferredCallbacks = new();

    /// <summary>Mirror of <see cref="_deferredCallbacks"/>' count, readable without the lock.</summary>
    private int _deferredCallbackCount;

    /// <summary>
    /// Writes a keyed item of a dedupe stage without waiting. In Replace mode a waiting item of the same
    /// dedupe key (in the channel, or parked behind its running key) is replaced or merged where it
    /// waits; otherwise the item enters the channel in a slot, under the stage's full mode.
    /// </summary>
    /// <param name="write">The item and what was computed for it.</param>
    /// <param name="entryTimestamp">The pipeline entry timestamp.</param>
    /// <param name="acceptedTimestamp">Now.</param>
    /// <param name="willWait">The caller waits for room on <see cref="WriteOutcome.Full"/>, with <paramref name="waitWith"/>.</param>
    /// <param name="waitWith">On <see cref="WriteOutcome.Full"/> with <paramref name="willWait"/>: the envelope to pass to <see cref="WriteWaitingAsync"/>.</param>
    /// <exception cref="ArgumentException">The dedupe key does not refine the routing key, or the merge function threw; the item was not accepted.</exception>
    /// <param name="delayed">A delayed write that keeps its key's order (<c>Shard.Timed.cs</c>): <paramref name="acceptedTimestamp"/> is its due time.</param>
    public WriteOutcome TryWriteDeduped(in DedupeWrite<T> write, long entryTimestamp, long acceptedTimestamp, bool willWait, out Envelope<T> waitWith, bool delayed = false)
    {
        waitWith = default;
        BeginWrite();
        DedupeSlot<T> slot;
        Envelope<T> envelope;
        bool written;
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

                if (_index!.TryGetWaiting(write.DedupeKey, out DedupeSlot<T>? waiting))
                {
                    // Accepted without entering the channel: the write's hold becomes the item's
                    // outstanding count (the payload it replaced settles as superseded).
                    ReplaceLocked(waiting, in write);
                    Interlocked.Increment(ref Counters.AcceptedOutsideChannel);
                    return WriteOutcome.Accepted;
                }

                // The lookup above, the channel write and the registration are one step under the
                // shard's lock: two writers of one key can never both miss the dictionary and leave the
                // older of their slots registered (a later replace would then land before a newer
                // waiting item, and the older value would run last). Evictions the write causes report
                // their callbacks after the lock is released.
                slot = _index.Rent(in write);
                envelope = new Envelope<T>(default!, write.RoutingKey, entryTimestamp, acceptedTimestamp) { Slot = slot };
                if (delayed)
                {
                    MarkDelayedLocked(ref envelope);
                }

                // Counted by the channel when it takes it (see Shard's remarks).
                written = TryWriteChannel(in envelope);
                if (written)
                {
                    _index.Register(slot);
                    if (delayed)
                    {
                        CountDelayedWrittenLocked();
                    }
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

        if (written)
        {
            ObserveHeld(openCounts: 1);
            EnsureLoop(fenced: _writeIsFenced);
            EndWrite();
            return WriteOutcome.Accepted;
        }

        EndWrite();
        WriteOutcome outcome = OnWriteFailed(write.Item, willWait);
        if (outcome == WriteOutcome.Full && willWait)
        {
            waitWith = envelope;
        }
        else
        {
            lock (_lock)
            {
                AssertLocked();
                ReturnSlot(slot);
            }
        }

        return outcome;
    }

    /// <summary>
    /// One attempt of a dedupe write that waited for room (<see cref="WriteWaitingAsync"/>), made when
    /// the channel says it has room. Like the first attempt in <see cref="TryWriteDeduped"/>, the
    /// lookup, the channel write and the registration are one step under the shard's lock: while the
    /// write waited, another writer may have put a newer slot of its dedupe key in the channel, and
    /// this item then replaces that slot rather than queue unregistered behind it. So the registered
    /// slot of a dedupe key is always its newest waiting item, and a replace never lets a write
    /// overtake one that returned before it began.
    /// </summary>
    /// <returns>False when the room was gone (the wait goes on); true when the item was written or replaced a waiting one.</returns>
    /// <exception cref="ArgumentException">The merge function threw, or the dedupe key does not refine the routing key; the item was not accepted.</exception>
    private bool TryWriteWaitedSlot(in Envelope<T> envelope)
    {
        DedupeSlot<T> slot = envelope.Slot!;
        lock (_lock)
        {
            AssertLocked();
            if (_completing)
            {
                // As in the first attempt: a completing shard takes nothing, not even a replace. The
                // channel closes right after the flag is set, and then the wait ends as refused.
                return false;
            }

            if (_index!.TryGetWaiting(slot.DedupeKey, out DedupeSlot<T>? waiting))
            {
                ReplaceLocked(waiting, slot.AsWrite());
                ReturnSlot(slot);

                // Accepted without entering the channel, so not counted by it: counted here, while the
                // waiting write's hold keeps the shard open (the payload it replaced settles as superseded).
                Interlocked.Increment(ref _outstanding);
                Interlocked.Increment(ref Counters.AcceptedOutsideChannel);
                return true;
            }

            if (!TryWriteChannel(in envelope))
            {
                return false;
            }

            _index.Register(slot);
            if ((envelope.Flags & EnvelopeFlags.Delayed) != 0)
            {
                CountDelayedInChannelLocked();
            }

            return true;
        }
    }

    /// <summary>Replaces (or merges into) a waiting slot's payload. Under <see cref="_lock"/>.</summary>
    private void ReplaceLocked(DedupeSlot<T> slot, in DedupeWrite<T> write)
    {
        AssertLocked();
        Debug.Assert(slot.State is SlotState.InChannel or SlotState.Held or SlotState.Delayed, "only a waiting slot is replaceable");
        if (slot.RoutingKey != write.RoutingKey)
        {
            throw OptionsValidation.InvalidItem(
                $"Stage '{_runtime.Name}': the Dedupe.KeySelector gave the key '{write.DedupeKey}' to items with different routing keys ('{slot.RoutingKey}' and '{write.RoutingKey}'); a dedupe key must refine the routing key. The item was not accepted.");
        }

        T previous = slot.Item;

        // A key that is running (or retrying) holds its next item back: replacing that one is the
        // in-flight collapse, whether a worker has already parked it or it still waits in the channel.
        bool keyBusy = slot.State == SlotState.Held || _scheduler.IsBusy(slot.RoutingKey);
        SupersedeReason reason;
        if (_dedupe!.Merge is { } merge)
        {
            T merged;
            try
            {
                merged = merge(previous, write.Item);
            }
            catch (Exception ex)
            {
                throw OptionsValidation.InvalidItem($"Stage '{_runtime.Name}': the Dedupe.Merge function threw; the waiting item was kept and this one was not accepted.", ex);
            }

            slot.Item = merged;
            (slot.HasContentHash, slot.ContentHash, slot.IsTombstone) = Describe(merged);
            reason = keyBusy ? SupersedeReason.InFlight : SupersedeReason.Merged;
        }
        else
        {
            slot.Item = write.Item;
            slot.HasContentHash = write.HasContentHash;
            slot.ContentHash = write.ContentHash;
            slot.IsTombstone = write.IsTombstone;
            reason = keyBusy ? SupersedeReason.InFlight : SupersedeReason.Pending;
        }

        if (slot.State == SlotState.Delayed)
        {
            // Waiting for its time: it keeps its place (a debounce starts its quiet period again).
            reason = SupersedeReason.Delayed;
            OnDelayedReplacedLocked(slot);
        }

        // The payload that will run is the newest write's (or merges it): its runs continue that write's trace.
        slot.Trace = write.Trace;
        SupersedeLocked(previous, reason);
    }

    /// <summary>Content hash and tombstone mark of a merged payload; a throwing user function means "no hash" and is counted.</summary>
    private (bool HasHash, ulong Hash, bool Tombstone) Describe(T item)
    {
        try
        {
            bool tombstone = _dedupe!.IsTombstone?.Invoke(item) ?? false;
            return _dedupe.ContentHash is { } hash ? (true, hash(item), tombstone) : (false, 0, tombstone);
        }
        catch (Exception)
        {
            Interlocked.Increment(ref Counters.CallbackErrors);
            return (false, 0, false);
        }
    }

    /// <summary>
    /// Takes a slot for running: it stops being replaceable, its payload moves into the envelope, and
    /// content dedupe decides whether it is a duplicate of its key's last processed item. Comparing at
    /// this point (not at write time) means an identical update behind a different waiting one is never
    /// lost. Under <see cref="_lock"/>.
    /// </summary>
    private void TakeSlot(ref Envelope<T> envelope)
    {
        AssertLocked();
        DedupeSlot<T> slot = envelope.Slot!;
        _index!.Unregister(slot);
        slot.State = SlotState.Taken;
        envelope.Item = slot.Item;
        envelope.Trace = slot.Trace;
        if (_index.IsContentDuplicate(slot))
        {
            envelope.Flags |= EnvelopeFlags.ContentDuplicate;
        }
    }

    /// <summary>
    /// In Replace mode, a key whose item waits for a retry and that receives a newer item of the same
    /// dedupe key drops the retry (superseded, <c>stale_retry</c>) and hands the key to its next
    /// waiting item. Under <see cref="_lock"/>.
    /// </summary>
    /// <returns>Whether an item was promoted to the ready queue.</returns>
    private bool SupersedeStaleRetry(KeyState<T> state, DedupeSlot<T> newer)
    {
        AssertLocked();
        if (!_dedupe!.Replace || state.Retry is not { } retry || newer.DedupeKey.IsNone ||
            retry.Envelope.Slot is not { } retrying || retrying.DedupeKey != newer.DedupeKey || !_retryTimers.TryCancel(retry))
        {
            return false;
        }

        state.Retry = null;
        SupersedeLocked(retry.Envelope.Item, SupersedeReason.StaleRetry);
        ReturnSlot(retrying);
        return ReleaseKeyLocked(retry.Envelope.Key);
    }

    private void ReturnSlot(DedupeSlot<T> slot) => _index!.Return(slot);

    /// <summary>
    /// Counts a superseded item. Without a callback it is settled now; with one, once its callback
    /// has run after the lock is released (see <see cref="_deferredCallbacks"/>). Under <see cref="_lock"/>.
    /// </summary>
    private void SupersedeLocked(T item, SupersedeReason reason)
    {
        AssertLocked();
        Counters.CountSupersede(reason);
        if (_dedupe?.OnSuperseded is not null)
        {
            Defer(item, drop: false, (int)reason);
            return;
        }

        Unaccount();
    }

    /// <summary>Counts a superseded item, tells the callback and settles it. Outside the lock.</summary>
    private void Supersede(T item, SupersedeReason reason)
    {
        Counters.CountSupersede(reason);
        Notify(item, reason);
        Unaccount();
    }

    /// <summary>
    /// Queues a callback for after the lock is released; the item stays outstanding until it has run.
    /// Whoever defers a callback calls <see cref="FlushDeferred"/> once the lock is released. Under <see cref="_lock"/>.
    /// </summary>
    private void Defer(T item, bool drop, int reason)
    {
        AssertLocked();
        _deferredCallbacks.Enqueue((item, drop, reason));
        _deferredCallbackCount++;
    }

    /// <summary>
    /// Runs the callbacks queued under the lock (anyone's: the queue is the shard's), settling each
    /// callback's item after it returned. Call with the lock released.
    /// </summary>
    private void FlushDeferred()
    {
        while (Volatile.Read(ref _deferredCallbackCount) > 0)
        {
            (T Item, bool Drop, int Reason) next;
            lock (_lock)
            {
                AssertLocked();
                if (!_deferredCallbacks.TryDequeue(out next))
                {
                    return;
                }

                _deferredCallbackCount--;
            }

            if (next.Drop)
            {
                NotifyDropped(next.Item, (DropReason)next.Reason);
            }
            else
            {
                Notify(next.Item, (SupersedeReason)next.Reason);
            }

            Unaccount();
        }
    }

    private void Notify(T item, SupersedeReason reason) => Call(_dedupe?.OnSuperseded, item, reason);
}
