using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading.Channels;
using System.Threading.Tasks.Sources;
using Engine.Internal;

namespace Engine.Queues;

/// <summary>
/// A bounded channel on a lock-free ring: a write claims a place with one compare-and-swap on the
/// tail, a take frees one with one compare-and-swap on the head. <c>Capacity</c> is exact: a place is
/// held from its claim until the item is taken. Writers that find the ring full wait in a first come,
/// first served list and are woken one per freed place; a take pays one plain read of a flag when
/// nobody waits. Completion closes the tail in one atomic step, so "closed" and "the last accepted
/// claim" are one event. Waits without a cancellation token allocate nothing once warm.
/// </summary>
/// <remarks>
/// <para>
/// The ring is Vyukov's bounded queue (as in the runtime's <c>ConcurrentQueueSegment</c>): slots
/// carry a sequence number that says whose turn the slot is (a writer's at <c>position</c>, a taker's
/// at <c>position + 1</c>), so a claim and a take never touch the same word except through the slot
/// they hand over. The ring's length is a power of two at least <see cref="Capacity"/> (and at least
/// two, so "published" and "free for the next lap" never share a sequence number); the capacity
/// check reads the head, and a stale head is smaller, so the check errs safe. Each end keeps its last
/// sight of the other beside it (<see cref="PaddedLong.Seen"/>): a write reads the head's line only
/// when its last sight says full, a take reads the tail's line only when it reaches the last tail seen.
/// </para>
/// <para>
/// Lost wake-ups are ruled out by the Dekker pattern on each side: a waiting writer raises
/// <see cref="_writersWaiting"/> with an interlocked instruction and then looks for room; a take moves
/// the head with a compare-and-swap (a full fence) and then reads the flag. One of the two sees the
/// other, so a place freed by a take whose handler then blocks for ever still wakes a writer. Readers
/// waiting for items mirror it with <see cref="_readersWaiting"/> and the tail.
/// </para>
/// <para>
/// Unlike the runtime's bounded channel, a freed place wakes one waiting writer, not all of them: a
/// woken writer that does not write leaves the place to the next take's wake-up. Waiting readers are
/// all woken, as the runtime's are. Continuations always run asynchronously.
/// </para>
/// </remarks>
/// <typeparam name="T">The items.</typeparam>
[DebuggerDisplay("Items = {ItemCount}, Capacity = {Capacity}, Closed = {IsClosed}")]
internal sealed class RingChannel<T> : CountingChannel<T>
{
    /// <summary>Set in <see cref="_tail"/> when the channel is completed: no claim succeeds after it.</summary>
    private const long ClosedBit = 1L << 62;

    /// <summary>Waiters kept for reuse by waits without a token.</summary>
    private const int PooledWaiters = 8;

    /// <summary>The ring; its length is a power of two at least <see cref="Capacity"/>, and at least 2.</summary>
    private readonly Slot[] _slots;

    /// <summary><see cref="_slots"/>' length less one.</summary>
    private readonly long _mask;

    /// <summary>The next position to claim, with <see cref="ClosedBit"/> once completed. Moved by compare-and-swap.</summary>
    private PaddedLong _tail;

    /// <summary>The next position to take. Moved by compare-and-swap.</summary>
    private PaddedLong _head;

    /// <summary>Guards the waiter lists and the pool; never held while an item is claimed or taken.</summary>
    private readonly Lock _waitLock = new();

    /// <summary>Writers waiting for room, oldest first. Under <see cref="_waitLock"/>.</summary>
    private readonly IntrusiveQueue<Waiter> _writers = new();

    /// <summary>Readers waiting for an item. Under <see cref="_waitLock"/>.</summary>
    private readonly IntrusiveQueue<Waiter> _readers = new();

    /// <summary>Waiters for waits without a token, reused. Under <see cref="_waitLock"/>.</summary>
    private readonly Stack<Waiter> _pool = new();

    /// <summary><see cref="_writers"/>' count, raised with an interlocked instruction, read by takes without the lock.</summary>
    private int _writersWaiting;

    /// <summary><see cref="_readers"/>' count, raised with an interlocked instruction, read by writes without the lock.</summary>
    private int _readersWaiting;

    /// <summary>1 once a completion won (<see cref="TryComplete"/>).</summary>
    private int _completing;

    /// <summary>The error the channel was completed with, if any; written before <see cref="ClosedBit"/> is set.</summary>
    private Exception? _error;

    /// <summary>Completes once the channel is completed and every accepted item was taken.</summary>
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Told of the claims whose position is a multiple of <see cref="_sampleMask"/> + 1; null for none.</summary>
    private readonly IClaimSampler<T>? _sampler;

    /// <summary>One less than the sampler's interval, a power of two.</summary>
    private readonly long _sampleMask;

    /// <summary>Creates a channel that holds at most <paramref name="capacity"/> items.</summary>
    /// <param name="capacity">The most items the channel holds; at least 1.</param>
    /// <param name="sampler">Told of one claim in <paramref name="sampleEvery"/> (see <see cref="IClaimSampler{T}"/>); null for none.</param>
    /// <param name="sampleEvery">The sampler's interval: a power of two, at least 1.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="capacity"/> is less than 1 or more than 2^30, or <paramref name="sampleEvery"/> is not a positive power of two.</exception>
    public RingChannel(int capacity, IClaimSampler<T>? sampler = null, int sampleEvery = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(capacity, 1 << 30);
        if (!BitOperations.IsPow2(sampleEvery))
        {
            throw new ArgumentOutOfRangeException(nameof(sampleEvery), sampleEvery, "The sampler's interval must be a positive power of two.");
        }

        _sampler = sampler;
        _sampleMask = sampleEvery - 1;
        Capacity = capacity;
        // At least two slots: with one, a published item's sequence (position + 1) would equal the
        // next lap's "free for a writer" (position + length), and a writer could claim a slot whose item
        // is still being copied out. The capacity check, not the length, bounds the items.
        int length = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(2, capacity));
        _slots = new Slot[length];
        for (int i = 0; i < length; i++)
        {
            _slots[i].Sequence = i;
        }

        _mask = length - 1;
        Reader = new RingReader(this);
        Writer = new RingWriter(this);
    }

    /// <summary>The most items the channel holds.</summary>
    public int Capacity { get; }

    /// <inheritdoc/>
    /// <remarks>The tail: every claim moves it by one, before its item can be taken.</remarks>
    public override long Accepted => TailIndex(Volatile.Read(ref _tail.Value));

    /// <inheritdoc/>
    /// <remarks>
    /// The claim's compare-and-swap comes after nothing the reader needs and before the item is
    /// published, but <see cref="ItemCount"/> counts claims, so the claim is the write as far as a
    /// count is concerned, and the compare-and-swap is a full fence.
    /// </remarks>
    public override bool WriteIsFenced => true;

    /// <summary>Items claimed and not yet taken (including claims whose writer has not published yet).</summary>
    public int ItemCount => (int)Math.Clamp(TailIndex(Volatile.Read(ref _tail.Value)) - Volatile.Read(ref _head.Value), 0, Capacity);

    /// <summary>Writers waiting for room now (for tests and diagnostics).</summary>
    public int WaitingWriters => Volatile.Read(ref _writersWaiting);

    /// <summary>Readers waiting for an item now (for tests and diagnostics).</summary>
    public int WaitingReaders => Volatile.Read(ref _readersWaiting);

    /// <summary>Whether the channel was completed (items may still wait to be taken).</summary>
    public bool IsClosed => (Volatile.Read(ref _tail.Value) & ClosedBit) != 0;

    private static long TailIndex(long tail) => tail & ~ClosedBit;

    /// <summary>Claims a place and publishes the item, or returns false when the ring is full or closed.</summary>
    /// <remarks>Internal so the shard can write without the writer's virtual call and copies of a large item.</remarks>
    internal bool TryWrite(in T item)
    {
        var spinner = default(SpinWait);
        while (true)
        {
            long tail = Volatile.Read(ref _tail.Value);
            if ((tail & ClosedBit) != 0)
            {
                return false;
            }

            // Against the last head seen first (a smaller head: the check errs safe), and the head's own
            // line, which every take writes, only when that says full: once per lap, not once per write.
            if (tail - _tail.Seen >= Capacity)
            {
                long head = Volatile.Read(ref _head.Value);
                _tail.Seen = head;
                if (tail - head >= Capacity)
                {
                    return false;
                }
            }

            ref Slot slot = ref _slots[tail & _mask];
            long sequence = Volatile.Read(ref slot.Sequence);
            if (sequence == tail)
            {
                if (Interlocked.CompareExchange(ref _tail.Value, tail + 1, tail) == tail)
                {
                    slot.Item = item;
                    if ((tail & _sampleMask) == 0 && _sampler is { } sampler)
                    {
                        sampler.Sampled(ref slot.Item);
                    }

                    Volatile.Write(ref slot.Sequence, tail + 1);

                    // The compare-and-swap above is this side's fence (see the remarks).
                    if (Volatile.Read(ref _readersWaiting) != 0)
                    {
                        WakeReaders();
                    }

                    return true;
                }
            }
            else if (sequence < tail)
            {
                // The capacity check says a taker has claimed this slot's previous item (its head is
                // past it) but not yet handed the slot back: a few instructions away.
                spinner.SpinOnce(sleep1Threshold: -1);
            }

            // Otherwise another writer claimed this position first: try the next one.
        }
    }

    /// <summary>Takes the oldest item, or returns false when none is claimed.</summary>
    /// <remarks>Internal so the shard can take without the reader's virtual call.</remarks>
    internal bool TryRead([MaybeNullWhen(false)] out T item)
    {
        var spinner = default(SpinWait);
        while (true)
        {
            long head = Volatile.Read(ref _head.Value);
            ref Slot slot = ref _slots[head & _mask];
            long sequence = Volatile.Read(ref slot.Sequence);
            if (sequence == head + 1)
            {
                if (Interlocked.CompareExchange(ref _head.Value, head + 1, head) != head)
                {
                    continue;
                }

                item = slot.Item;
                if (RuntimeHelpers.IsReferenceOrContainsReferences<T>())
                {
                    slot.Item = default!;
                }

                Volatile.Write(ref slot.Sequence, head + _slots.Length);

                // The compare-and-swap on the head is this side's fence (see the remarks).
                if (Volatile.Read(ref _writersWaiting) != 0)
                {
                    WakeWriter();
                }

                // The last take of a completed ring finishes it. Only a take that reaches the last tail
                // seen reads the tail's line, which every write moves: the tail only grows, so while
                // positions past this one were seen claimed, this cannot be the last take.
                if (TailIndex(_head.Seen) <= head + 1)
                {
                    long tail = Volatile.Read(ref _tail.Value);
                    _head.Seen = tail;
                    if ((tail & ClosedBit) != 0 && TailIndex(tail) == head + 1)
                    {
                        Finish();
                    }
                }

                return true;
            }

            if (sequence <= head)
            {
                if (TailIndex(Volatile.Read(ref _tail.Value)) == head)
                {
                    item = default;
                    return false;
                }

                // A writer has claimed this position and not published yet (on a busy machine it can be
                // descheduled in between): the item is accepted, so wait for it rather than report none.
                spinner.SpinOnce(sleep1Threshold: -1);
                continue;
            }

            // Another taker took this position first: try the next one.
        }
    }

    /// <summary>Whether a write could claim a place now (or the channel is closed, which ends a wait too).</summary>
    private bool HasRoomOrClosed()
    {
        long tail = Volatile.Read(ref _tail.Value);
        return (tail & ClosedBit) != 0 || tail - Volatile.Read(ref _head.Value) < Capacity;
    }

    /// <summary>Whether an item is claimed (published or about to be), or the channel is closed.</summary>
    private bool HasItemOrClosed()
    {
        long tail = Volatile.Read(ref _tail.Value);
        return (tail & ClosedBit) != 0 || TailIndex(tail) != Volatile.Read(ref _head.Value);
    }

    private ValueTask<bool> WaitToWriteAsync(CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<bool>(cancellationToken);
        }

        return HasRoomOrClosed() ? WriteWaitResult() : WaitAsync(_writers, ref _writersWaiting, writers: true, cancellationToken);
    }

    /// <summary>What a writer's wait ends with: false once the channel is completed (its error thrown, if it has one), else true.</summary>
    private ValueTask<bool> WriteWaitResult()
    {
        if (!IsClosed)
        {
            return new ValueTask<bool>(true);
        }

        return Volatile.Read(ref _error) is { } error ? ValueTask.FromException<bool>(error) : new ValueTask<bool>(false);
    }

    private ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<bool>(cancellationToken);
        }

        return HasItemOrClosed() ? ReadWaitResult() : WaitAsync(_readers, ref _readersWaiting, writers: false, cancellationToken);
    }

    /// <summary>What a reader's wait ends with: true while an item is claimed; once closed and drained, false (or the completion's error).</summary>
    private ValueTask<bool> ReadWaitResult()
    {
        long tail = Volatile.Read(ref _tail.Value);
        if ((tail & ClosedBit) == 0 || TailIndex(tail) != Volatile.Read(ref _head.Value))
        {
            return new ValueTask<bool>(true);
        }

        return Volatile.Read(ref _error) is { } error ? ValueTask.FromException<bool>(error) : new ValueTask<bool>(false);
    }

    /// <summary>Queues a waiter, unless what it waits for arrived while it was being queued (the other half of the Dekker pattern).</summary>
    private ValueTask<bool> WaitAsync(IntrusiveQueue<Waiter> list, ref int waiting, bool writers, CancellationToken cancellationToken)
    {
        Waiter waiter;
        lock (_waitLock)
        {
            waiter = !cancellationToken.CanBeCanceled && _pool.TryPop(out Waiter? pooled) ? pooled : new Waiter(this, pooled: !cancellationToken.CanBeCanceled);
            list.Add(waiter);
            Interlocked.Increment(ref waiting);
            if (writers ? HasRoomOrClosed() : HasItemOrClosed())
            {
                list.Remove(waiter);
                Interlocked.Decrement(ref waiting);
                Recycle(waiter);
                return writers ? WriteWaitResult() : ReadWaitResult();
            }
        }

        if (cancellationToken.CanBeCanceled)
        {
            // Registered outside the lock: a token cancelled meanwhile runs the callback at once, and it
            // takes the lock. Kept under it, so a wake sees the registration whole; a wait that ended
            // in between drops it at once.
            CancellationTokenRegistration registration = waiter.Register(writers ? _writers : _readers, cancellationToken);
            lock (_waitLock)
            {
                if (waiter.Queued)
                {
                    waiter.Registration = registration;
                    registration = default;
                }
            }

            registration.Unregister();
        }

        return waiter.Task;
    }

    /// <summary>A freed place goes to the oldest waiting writer; a waiter whose wait was cancelled is gone from the list already.</summary>
    private void WakeWriter()
    {
        lock (_waitLock)
        {
            if (_writers.TakeFirst() is { } waiter)
            {
                Interlocked.Decrement(ref _writersWaiting);
                waiter.Wake(true);
            }
        }
    }

    /// <summary>An item published: every waiting reader may look.</summary>
    private void WakeReaders()
    {
        lock (_waitLock)
        {
            while (_readers.TakeFirst() is { } waiter)
            {
                Interlocked.Decrement(ref _readersWaiting);
                waiter.Wake(true);
            }
        }
    }

    /// <summary>A waiter's token fired while it waited: it leaves its list and its wait ends cancelled.</summary>
    private void Cancel(Waiter waiter, IntrusiveQueue<Waiter> list, CancellationToken cancellationToken)
    {
        lock (_waitLock)
        {
            if (list.Remove(waiter))
            {
                Interlocked.Decrement(ref list == _writers ? ref _writersWaiting : ref _readersWaiting);
                waiter.WakeCancelled(cancellationToken);
            }
        }
    }

    /// <summary>Puts a finished waiter back in the pool (waits without a token only).</summary>
    private void Recycle(Waiter waiter)
    {
        if (!waiter.Pooled)
        {
            return;
        }

        lock (_waitLock)
        {
            if (_pool.Count < PooledWaiters)
            {
                waiter.Reset();
                _pool.Push(waiter);
            }
        }
    }

    private bool TryComplete(Exception? error)
    {
        if (Interlocked.Exchange(ref _completing, 1) != 0)
        {
            return false;
        }

        Volatile.Write(ref _error, error);

        // One atomic step: a claim either happened before it (and is accepted) or fails after it.
        long tail = Interlocked.Or(ref _tail.Value, ClosedBit);
        lock (_waitLock)
        {
            while (_writers.TakeFirst() is { } writer)
            {
                Interlocked.Decrement(ref _writersWaiting);
                writer.Wake(false);
            }

            // Readers wake to the items still to take, or to the end (the error, if there is one).
            bool itemsLeft = TailIndex(tail) != Volatile.Read(ref _head.Value);
            while (_readers.TakeFirst() is { } reader)
            {
                Interlocked.Decrement(ref _readersWaiting);
                reader.Wake(itemsLeft);
            }
        }

        // The interlocked or is this side's fence; a take moves the head and then reads the tail.
        if (Volatile.Read(ref _head.Value) == TailIndex(tail))
        {
            Finish();
        }

        return true;
    }

    /// <summary>Completed and drained: <see cref="ChannelReader{T}.Completion"/> ends, as the runtime's does for the same error.</summary>
    private void Finish()
    {
        switch (Volatile.Read(ref _error))
        {
            case null:
                _completion.TrySetResult();
                break;
            case OperationCanceledException cancelled:
                _completion.TrySetCanceled(cancelled.CancellationToken);
                break;
            case { } error:
                _completion.TrySetException(error);
                break;
        }
    }

    /// <summary>A slot: whose turn it is, and the item.</summary>
    [StructLayout(LayoutKind.Auto)]
    private struct Slot
    {
        public long Sequence;
        public T Item;
    }

    /// <summary>A writer's or reader's pending wait, awaited once through a <see cref="ValueTask{TResult}"/>.</summary>
    private sealed class Waiter(RingChannel<T> owner, bool pooled) : IValueTaskSource<bool>, IIntrusiveNode<Waiter>
    {
        private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = true };
        public bool Pooled { get; } = pooled;

        /// <inheritdoc/>
        public Waiter? Previous { get; set; }

        /// <inheritdoc/>
        public Waiter? Next { get; set; }

        /// <inheritdoc/>
        public bool Queued { get; set; }

        public ValueTask<bool> Task => new(this, _core.Version);

        /// <summary>The token's registration while the waiter is listed. Under the owner's wait lock.</summary>
        public CancellationTokenRegistration Registration { get; set; }

        public CancellationTokenRegistration Register(IntrusiveQueue<Waiter> list, CancellationToken cancellationToken) =>
            cancellationToken.UnsafeRegister(static (state, token) =>
            {
                var (waiter, list) = ((Waiter, IntrusiveQueue<Waiter>))state!;
                waiter.Cancelled(list, token);
            }, (this, list));

        private void Cancelled(IntrusiveQueue<Waiter> list, CancellationToken cancellationToken) => owner.Cancel(this, list, cancellationToken);

        /// <summary>Ends the wait. Under the owner's wait lock; the continuation runs elsewhere.</summary>
        public void Wake(bool result)
        {
            Registration.Unregister();
            Registration = default;
            if (result || owner._error is null)
            {
                _core.SetResult(result);
            }
            else
            {
                _core.SetException(owner._error);
            }
        }

        public void WakeCancelled(CancellationToken cancellationToken)
        {
            Registration = default;
            _core.SetException(new OperationCanceledException(cancellationToken));
        }

        public void Reset() => _core.Reset();

        public bool GetResult(short token)
        {
            try
            {
                return _core.GetResult(token);
            }
            finally
            {
                owner.Recycle(this);
            }
        }

        public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _core.OnCompleted(continuation, state, token, flags);
    }

    private sealed class RingReader(RingChannel<T> channel) : ChannelReader<T>
    {
        public override Task Completion => channel._completion.Task;

        public override bool CanCount => true;

        public override int Count => channel.ItemCount;

        public override bool TryRead([MaybeNullWhen(false)] out T item) => channel.TryRead(out item);

        public override ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken = default) => channel.WaitToReadAsync(cancellationToken);

        public override ValueTask<T> ReadAsync(CancellationToken cancellationToken = default)
        {
            if (cancellationToken.IsCancellationRequested)
            {
                return ValueTask.FromCanceled<T>(cancellationToken);
            }

            return channel.TryRead(out T? item) ? new ValueTask<T>(item) : ReadWaitingAsync(cancellationToken);
        }

        /// <summary>Waits for an item; a completed channel ends it with <see cref="ChannelClosedException"/> (carrying the completion's error), as the runtime's channels do.</summary>
        private async ValueTask<T> ReadWaitingAsync(CancellationToken cancellationToken)
        {
            while (await Closed.Wrap(channel.WaitToReadAsync(cancellationToken)).ConfigureAwait(false))
            {
                if (channel.TryRead(out T? item))
                {
                    return item;
                }
            }

            throw new ChannelClosedException();
        }
    }

    private sealed class RingWriter(RingChannel<T> channel) : ChannelWriter<T>
    {
        public override bool TryComplete(Exception? error = null) => channel.TryComplete(error);

        public override bool TryWrite(T item) => channel.TryWrite(in item);

        public override ValueTask<bool> WaitToWriteAsync(CancellationToken cancellationToken = default) => channel.WaitToWriteAsync(cancellationToken);

        public override ValueTask WriteAsync(T item, CancellationToken cancellationToken = default)
        {
            if (cancellationToken.IsCancellationRequested)
            {
                return ValueTask.FromCanceled(cancellationToken);
            }

            return channel.TryWrite(in item) ? default : WriteWaitingAsync(item, cancellationToken);
        }

        /// <summary>Waits for room; a completed channel ends it with <see cref="ChannelClosedException"/> (carrying the completion's error), as the runtime's channels do.</summary>
        private async ValueTask WriteWaitingAsync(T item, CancellationToken cancellationToken)
        {
            while (await Closed.Wrap(channel.WaitToWriteAsync(cancellationToken)).ConfigureAwait(false))
            {
                if (channel.TryWrite(in item))
                {
                    return;
                }
            }

            throw new ChannelClosedException();
        }
    }

    /// <summary>Turns the error a completed channel's wait throws into the <see cref="ChannelClosedException"/> a read or write reports.</summary>
    private static class Closed
    {
        public static async ValueTask<bool> Wrap(ValueTask<bool> wait)
        {
            try
            {
                return await wait.ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException and not ChannelClosedException)
            {
                throw new ChannelClosedException(ex);
            }
        }
    }
}
