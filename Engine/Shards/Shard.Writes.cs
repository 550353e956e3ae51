using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Engine.Dedupe;
using Engine.Internal;
using Engine.Queues;

namespace Engine.Shards;

/// <summary>
/// The shard's write path: stamping, the plain write (counted by the channel's claim, see the type's
/// remarks in <c>Shard.cs</c>), writes that wait for room, groups of writes, and what a refused write
/// does. Dedupe writes are in <c>Shard.Dedupe.cs</c>.
/// </summary>
internal sealed partial class Shard<T>
{
    /// <summary>
    /// The stamp a write takes before it is offered: <see cref="AcceptStamp"/> when the item enters the
    /// pipeline here and the handler sees its entry time (an <see cref="ItemContext"/>), or, on the
    /// runtime's channel, when the write is timed (one in <see cref="ShardSettings{T}.LatencySampling"/>,
    /// by the shard's accept count); else 0, and no clock is read. On the ring the timed writes are
    /// chosen by their claim instead (<see cref="IClaimSampler{T}.Sampled"/>): at the claim the position
    /// is known for free, where reading the count before the write cost every write a read of the tail's
    /// cache line. An item stamped 0 has no queue wait recorded (see <see cref="BeginRun"/>).
    /// </summary>
    /// <param name="entryTimestamp">The item's entry timestamp, or 0 when it enters the pipeline here.</param>
    public long StampFor(long entryTimestamp)
    {
        if (entryTimestamp == 0 && _runtime.ContextHandler is not null)
        {
            return AcceptStamp();
        }

        if (_ring is not null || (_samplingMask != 0 && (_channel.Accepted & _samplingMask) != 0))
        {
            return 0;
        }

        return AcceptStamp();
    }

    /// <summary>
    /// A sampled claim on the ring (see <see cref="StampFor"/>): an item that carries no stamp yet, and
    /// was not left untimed by a write that had to wait (<see cref="WriteWaitingAsync"/>), is stamped
    /// now, with the item still unpublished in its slot.
    /// </summary>
    void IClaimSampler<Envelope<T>>.Sampled(ref Envelope<T> envelope)
    {
        if (envelope.AcceptedTimestamp != 0 || (envelope.Flags & EnvelopeFlags.Untimed) != 0)
        {
            return;
        }

        long stamp;
        try
        {
            stamp = AcceptStamp();
        }
        catch (Exception)
        {
            // A user's clock that throws must not leave a claimed slot unpublished: the item goes untimed.
            Interlocked.Increment(ref Counters.CallbackErrors);
            return;
        }

        Stamp(ref envelope, stamp);
    }

    /// <summary>Times a write: its accept stamp, and its entry stamp when it enters the pipeline here.</summary>
    private static void Stamp(ref Envelope<T> envelope, long stamp)
    {
        envelope.AcceptedTimestamp = stamp;
        if (envelope.EntryTimestamp == 0)
        {
            envelope.EntryTimestamp = stamp;
        }
    }

    /// <summary>
    /// The timestamp a write stamps its item with (accepted, and entered when it enters here). While a
    /// loop of the shard times fast runs in groups (see <see cref="RunTiming"/>), the loop's last clock
    /// read: a group of runs old (under a microsecond while the group stays fast), one run at worst
    /// (the slow one that ends grouping), or longer only when the loop's thread is descheduled between
    /// two reads. A write then costs no clock read. Otherwise the clock. A stamp is never later than
    /// the write, so waits and latencies read from it are never short, at worst long by that age.
    /// </summary>
    public long AcceptStamp()
    {
        long recent = Volatile.Read(ref _loopClock.Value);
        return recent != 0 ? recent : _runtime.TimeProvider.GetTimestamp();
    }

    /// <summary>Writes without waiting; see <see cref="WriteOutcome"/> for what happened to the item.</summary>
    /// <param name="envelope">The item.</param>
    /// <param name="willWait">
    /// The caller will wait for room on <see cref="WriteOutcome.Full"/> (<see cref="WriteWaitingAsync"/>),
    /// so a full shard is not yet a refusal.
    /// </param>
    /// <remarks>
    /// The channel's write is the accounting (see the type's remarks): a write the channel takes is
    /// counted there before a loop can take it, and one it refuses was never counted.
    /// </remarks>
    public WriteOutcome TryWrite(in Envelope<T> envelope, bool willWait)
    {
        if (TryWriteChannel(in envelope))
        {
            ObserveHeld(openCounts: 0);
            EnsureLoop(fenced: _writeIsFenced);
            return WriteOutcome.Accepted;
        }

        return OnWriteFailed(envelope.Item, willWait);
    }

    /// <summary>
    /// Writes, waiting for room (<see cref="StageFullMode.Wait"/>). Writes that overlap in time have
    /// no order between them: one that arrives while this one waits may take a freed slot first
    /// (letting it would cost every waiting write a second thread-pool hop; measured: half the
    /// throughput under heavy backpressure). A write that starts after another returned is always
    /// behind it. A dedupe slot that had to wait is written with the same lookup as a first attempt
    /// (<see cref="TryWriteWaitedSlot"/>): it replaces a slot of its dedupe key that entered while it
    /// waited, or enters the channel registered as its key's newest.
    /// </summary>
    /// <remarks>
    /// Through <see cref="ChannelWrite.WriteAsync{T, TState}"/>: when the token ends the wait, the item
    /// was never written, so it is un-counted and its dedupe slot is free to reuse.
    /// </remarks>
    /// <exception cref="ChannelClosedException">The shard stopped taking items while the write waited; the item was refused.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> fired first; the item was not accepted.</exception>
    /// <exception cref="ArgumentException">A dedupe slot's replace failed (see <see cref="TryWriteWaitedSlot"/>); the item was not accepted.</exception>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask WriteWaitingAsync(Envelope<T> envelope, CancellationToken cancellationToken)
    {
        if (_ring is not null && _observer is not null && envelope.AcceptedTimestamp == 0)
        {
            // Decided now, by the accept count as on the runtime's channel, so that the wait includes
            // the time spent waiting for room (docs/metrics.md); the claim must not time it again.
            if ((_channel.Accepted & _samplingMask) == 0)
            {
                Stamp(ref envelope, AcceptStamp());
            }
            else
            {
                envelope.Flags |= EnvelopeFlags.Untimed;
            }
        }

        BeginWrite();
        Interlocked.Increment(ref _blockedWriters);
        bool written;
        try
        {
            written = envelope.Slot is null
                ? (envelope.Flags & EnvelopeFlags.Delayed) == 0
                    ? await _waitingWrites.WriteAsync(_writer, envelope, cancellationToken).ConfigureAwait(false)
                    : await _waitingWrites.WriteAsync(_writer, envelope, this, static (shard, waited) => shard.TryWriteWaitedDelayed(in waited), cancellationToken).ConfigureAwait(false)
                : await _waitingWrites.WriteAsync(_writer, envelope, this, static (shard, waited) => shard.TryWriteWaitedSlot(in waited), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or ArgumentException)
        {
            AbandonWrite(envelope.Slot, refused: ex is ArgumentException);
            throw;
        }
        finally
        {
            Interlocked.Decrement(ref _blockedWriters);
        }

        if (!written)
        {
            // The channel completed while the write waited.
            AbandonWrite(envelope.Slot, refused: true);
            throw new ChannelClosedException();
        }

        // A replace superseded the waiting slot's payload: its callback runs here, on the writer.
        FlushDeferred();
        EndWrites(written: 1);
    }

    /// <summary>
    /// Opens a group of writes (<c>Stage.WriteManyAsync</c>): holds the shard open (as
    /// <see cref="BeginWrite"/> does for one write) until <see cref="EndWrites"/>. Each item the group
    /// writes is counted by the channel, so the group costs two interlocked instructions of the shard's
    /// own, however many items it writes.
    /// </summary>
    public void BeginWrites() => BeginWrite();

    /// <summary>
    /// Writes one item of a group opened by <see cref="BeginWrites"/>. Only the channel is tried: a
    /// false return (full, closed, or dropped by the full mode) leaves the item out, and the caller
    /// writes it again the way a single write would, which reports why.
    /// </summary>
    public bool TryWriteCounted(in Envelope<T> envelope) => TryWriteChannel(in envelope);

    /// <summary>The channel's write, straight to the ring when the channel is one (see <see cref="_ring"/>).</summary>
    private bool TryWriteChannel(in Envelope<T> envelope) => _ring is { } ring ? ring.TryWrite(in envelope) : _writer.TryWrite(envelope);

    /// <summary>The channel's take, straight from the ring when the channel is one (see <see cref="_ring"/>).</summary>
    private bool TryReadChannel(out Envelope<T> envelope) => _ring is { } ring ? ring.TryRead(out envelope) : _reader.TryRead(out envelope);

    /// <summary>
    /// Closes a group of writes opened by <see cref="BeginWrites"/>, or one waiting write that got its
    /// item in: makes sure a loop runs for the <paramref name="written"/> items (counted by the
    /// channel) and gives back the hold (from here the shard may finish).
    /// </summary>
    /// <param name="written">How many items got in.</param>
    public void EndWrites(int written)
    {
        Debug.Assert(written >= 0, "a group writes no negative number of items");
        if (written > 0)
        {
            ObserveHeld(openCounts: 1);
            EnsureLoop(fenced: _writeIsFenced);
        }

        Unaccount();
    }

    /// <summary>
    /// Opens a write that may not go straight into the channel (it waits for room, or goes through the
    /// dedupe index): holds the shard open until <see cref="EndWrite"/> or <see cref="AbandonWrite"/>,
    /// so a replace or a late write is counted before the shard can finish. An item the write puts in
    /// the channel is counted by the channel; one it accepts otherwise (a replace) in
    /// <see cref="ShardCounters.AcceptedOutsideChannel"/>, before the hold is given back.
    /// </summary>
    private void BeginWrite() => Interlocked.Increment(ref _outstanding);

    /// <summary>Closes a write opened by <see cref="BeginWrite"/>: from here the shard may finish.</summary>
    private void EndWrite() => Unaccount();

    /// <summary>A write opened by <see cref="BeginWrite"/> that did not get its item in: gives back the hold and frees the item's slot.</summary>
    private void AbandonWrite(DedupeSlot<T>? slot, bool refused)
    {
        if (refused)
        {
            Interlocked.Increment(ref Counters.Refused);
        }

        if (slot is not null)
        {
            lock (_lock)
            {
                AssertLocked();
                ReturnSlot(slot);
            }
        }

        Unaccount();
    }

    /// <summary>
    /// Notes the items the shard holds right after an accept (an eviction it caused already
    /// settled), leaving out writers still waiting for room, for the depth peak.
    /// </summary>
    /// <param name="openCounts">The hold the caller's own write still has (see <see cref="BeginWrite"/>): 0 or 1.</param>
    private void ObserveHeld(long openCounts)
    {
        if (_observer is { } observer)
        {
            // Each open write holds one count (see BeginWrite): the caller's own, and writers still waiting.
            observer.Held(Outstanding - openCounts - Volatile.Read(ref _blockedWriters));
        }
    }

    /// <summary>Counts a write the stage turned away before it reached a shard (a failing key selector).</summary>
    public void CountRefused() => Interlocked.Increment(ref Counters.Refused);

    /// <summary>The failed-write half of <see cref="TryWrite"/>: closed, dropped by DropWrite, or full.</summary>
    private WriteOutcome OnWriteFailed(T item, bool willWait)
    {
        if (_completing)
        {
            Interlocked.Increment(ref Counters.Refused);

            // A channel that counts a write before offering it (CountedBoundedChannel) took the count
            // back just now: a settle that saw it in between left the finish to this write.
            TryFinish();
            return WriteOutcome.Closed;
        }

        if (_runtime.FullMode == StageFullMode.DropWrite)
        {
            // Accepted and dropped: outstanding until its drop callback has returned.
            Interlocked.Increment(ref _outstanding);
            Interlocked.Increment(ref Counters.AcceptedOutsideChannel);
            Drop(item, DropReason.DropWrite);
            return WriteOutcome.Dropped;
        }

        if (!willWait)
        {
            Interlocked.Increment(ref Counters.Refused);
        }

        return WriteOutcome.Full;
    }
}
