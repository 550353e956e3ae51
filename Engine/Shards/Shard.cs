using System.Diagnostics;
using System.Threading.Channels;
using Engine.Routing;
using Engine.Stages;

namespace Engine.Shards;

/// <summary>
/// One shard of a stage: a bounded channel drained by up to <c>maxWorkers</c> worker loops.
/// </summary>
/// <remarks>
/// <para>
/// Workers are started on demand, the way TPL Dataflow's blocks start their processing tasks: a write
/// starts a loop when fewer than the maximum are running, and a loop exits when it finds nothing to
/// do. A loop draws from two sources: the <see cref="_ready"/> queue (items that became runnable
/// because their key was freed or their retry backoff ended) and the channel. Drawing both from one
/// loop is what lets a due retry or a freed key's next item run without a second channel to wait on.
/// </para>
/// <para>
/// Keys are tracked (<see cref="_keys"/>) when order could otherwise break: several workers, or
/// retries (a retry waits off the worker, so the worker goes on with other keys). A key with an item
/// in a handler, ready, or waiting for a retry is busy; its later items are parked in its backlog and
/// promoted one by one to the ready queue as it frees. The channel read and the key claim happen under
/// the shard lock, so two workers can never claim one key's items out of order.
/// </para>
/// <para>
/// Every accepted item is counted in <see cref="_outstanding"/> until it settles (processed,
/// dead-lettered, dropped or abandoned). The shard finishes when it is completing, nothing is
/// outstanding and no loop runs; that is the only way it finishes, so completion cannot outrun an item.
/// </para>
/// </remarks>
[DebuggerDisplay("Shard {Index}: Waiting = {WaitingCount}, Loops = {_activeLoops}, Outstanding = {_outstanding}")]
internal sealed class Shard<T> : IThreadPoolWorkItem
{
    /// <summary>The settings and handler shared with the other shards of the stage.</summary>
    private readonly StageRuntime<T> _runtime;

    /// <summary>Called once when the shard has finished.</summary>
    private readonly Action<Shard<T>> _onFinished;

    private readonly ChannelReader<Envelope<T>> _reader;
    private readonly ChannelWriter<Envelope<T>> _writer;

    /// <summary>The most loops that may run at once (the shard's workers).</summary>
    private readonly int _maxLoops;

    /// <summary>Whether keys are claimed, parked and promoted (see the type's remarks).</summary>
    private readonly bool _trackKeys;

    /// <summary>The most items parked behind busy keys before the shard stops reading its channel.</summary>
    private readonly int _parkLimit;

    /// <summary>Guards the key table, the ready queue, the parked count and the retry set.</summary>
    private readonly Lock _lock = new();

    /// <summary>Busy keys; only when <see cref="_trackKeys"/>. Under <see cref="_lock"/>.</summary>
    private readonly Dictionary<ItemKey, KeyState<T>>? _keys;

    /// <summary>Key states no key uses, reused so a busy key costs no allocation. Under <see cref="_lock"/>.</summary>
    private readonly Stack<KeyState<T>> _freeKeyStates = new();

    /// <summary>Items that may run now ahead of the channel: promoted backlog items and due retries. Under <see cref="_lock"/>.</summary>
    private readonly Queue<Envelope<T>> _ready = new();

    /// <summary>Retries waiting for their backoff, so an abort can cancel them. Under <see cref="_lock"/>.</summary>
    private readonly HashSet<PendingRetry<T>> _retries = [];

    /// <summary>Signalled when the shard has finished.</summary>
    private readonly TaskCompletionSource _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Mirror of <see cref="_ready"/>'s count, written under the lock, read without it.</summary>
    private int _readyCount;

    /// <summary>Items in key backlogs; written under the lock, read without it.</summary>
    private int _parked;

    /// <summary>Running worker loops; moved by compare-exchange.</summary>
    private int _activeLoops;

    /// <summary>Accepted items not yet settled, plus writes in progress.</summary>
    private long _outstanding;

    /// <summary>Set once the shard takes no more writes.</summary>
    private volatile bool _completing;

    /// <summary>1 once <see cref="_onFinished"/> has been called.</summary>
    private int _finishedFlag;

    public Shard(StageRuntime<T> runtime, int index, bool keyed, int workers, Action<Shard<T>> onFinished)
    {
        _runtime = runtime;
        _onFinished = onFinished;
        Index = index;
        _maxLoops = workers;
        _trackKeys = keyed && (workers > 1 || runtime.Retry.MaxAttempts > 1);
        _keys = _trackKeys ? [] : null;
        _parkLimit = runtime.Capacity;

        var options = new BoundedChannelOptions(runtime.Capacity)
        {
            SingleReader = false,
            SingleWriter = false,
            AllowSynchronousContinuations = false,

            // DropWrite and Reject are built on Wait: a full TryWrite then returns false, so the shard
            // knows exactly which item was turned away (the channel's own DropWrite reports true).
            FullMode = runtime.FullMode switch
            {
                StageFullMode.DropOldest => BoundedChannelFullMode.DropOldest,
                StageFullMode.DropNewest => BoundedChannelFullMode.DropNewest,
                _ => BoundedChannelFullMode.Wait,
            },
        };
        Channel<Envelope<T>> channel = Channel.CreateBounded<Envelope<T>>(options, OnEvicted);
        _reader = channel.Reader;
        _writer = channel.Writer;
        Counters = new ShardCounters();
    }

    /// <summary>The shard's number: 0..Shards-1 for keyed shards, Shards for the unkeyed one.</summary>
    public int Index { get; }

    /// <summary>The shard's item counters.</summary>
    public ShardCounters Counters { get; }

    /// <summary>Completes when the shard has settled every item it accepted and its loops have ended.</summary>
    public Task Finished => _finished.Task;

    /// <summary>Items waiting in the channel, parked, ready, or waiting for a retry.</summary>
    public int WaitingCount
    {
        get
        {
            lock (_lock)
            {
                return _reader.Count + _parked + _ready.Count + _retries.Count;
            }
        }
    }

    /// <summary>The shard's internal state in one line, for diagnostics.</summary>
    public override string ToString()
    {
        lock (_lock)
        {
            return $"shard {Index}: outstanding={Volatile.Read(ref _outstanding)} loops={Volatile.Read(ref _activeLoops)} completing={_completing} finished={_finishedFlag} " +
                $"channel={_reader.Count} ready={_ready.Count}/{_readyCount} parked={_parked} retries={_retries.Count} keys={_keys?.Count ?? 0} inFlight={Volatile.Read(ref Counters.InFlight)}";
        }
    }

    /// <summary>The shard's counts, including what is waiting and pending now.</summary>
    public StageCounts ReadCounts() => Counters.Read(WaitingCount, Math.Max(0, Volatile.Read(ref _outstanding)));

    /// <summary>Writes without waiting; see <see cref="WriteOutcome"/> for what happened to the item.</summary>
    /// <param name="envelope">The item.</param>
    /// <param name="willWait">
    /// The caller will wait for room on <see cref="WriteOutcome.Full"/> (<see cref="WriteWaitingAsync"/>),
    /// so a full shard is not yet a refusal.
    /// </param>
    public WriteOutcome TryWrite(in Envelope<T> envelope, bool willWait)
    {
        // Counted before the write so the shard cannot finish between the write and the count.
        Interlocked.Increment(ref _outstanding);
        if (_writer.TryWrite(envelope))
        {
            Interlocked.Increment(ref Counters.Accepted);
            EnsureLoop();
            return WriteOutcome.Accepted;
        }

        if (_completing)
        {
            Refuse();
            return WriteOutcome.Closed;
        }

        if (_runtime.FullMode == StageFullMode.DropWrite)
        {
            Interlocked.Increment(ref Counters.Accepted);
            Drop(envelope.Item, DropReason.DropWrite);
            return WriteOutcome.Dropped;
        }

        if (willWait)
        {
            Unaccount();
        }
        else
        {
            Refuse();
        }

        return WriteOutcome.Full;
    }

    /// <summary>Writes, waiting for room (<see cref="StageFullMode.Wait"/>).</summary>
    /// <exception cref="ChannelClosedException">The shard stopped taking items while the write waited; the item was refused.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> fired first; the item was not accepted.</exception>
    public async ValueTask WriteWaitingAsync(Envelope<T> envelope, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _outstanding);
        try
        {
            await _writer.WriteAsync(envelope, cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
            Refuse();
            throw;
        }
        catch (OperationCanceledException)
        {
            Unaccount();
            throw;
        }

        Interlocked.Increment(ref Counters.Accepted);
        EnsureLoop();
    }

    /// <summary>Counts a write the stage turned away before it reached a shard (a failing key selector).</summary>
    public void CountRefused() => Interlocked.Increment(ref Counters.Refused);

    /// <summary>Stops taking writes; the shard finishes once everything accepted has settled.</summary>
    public void Complete()
    {
        _completing = true;
        _writer.TryComplete();
        TryFinish();
    }

    /// <summary>
    /// Abandons everything the shard holds that is not inside a handler: the channel, key backlogs,
    /// the ready queue and pending retries. Call after the runtime is marked aborted and the shard completed.
    /// </summary>
    public void Abort()
    {
        Debug.Assert(_runtime.IsAborted && _completing, "Abort follows the runtime's abort and the shard's completion.");
        lock (_lock)
        {
            while (_reader.TryRead(out _))
            {
                Abandon();
            }

            while (_ready.TryDequeue(out _))
            {
                Abandon();
            }

            _readyCount = 0;
            if (_keys is not null)
            {
                foreach (KeyState<T> state in _keys.Values)
                {
                    while (state.Backlog.TryDequeue(out _))
                    {
                        Abandon();
                    }
                }
            }

            _parked = 0;
            foreach (PendingRetry<T> retry in _retries)
            {
                if (retry.TryClaim(PendingRetry<T>.Cancelled))
                {
                    retry.Timer?.Dispose();
                    Abandon();
                }
            }

            _retries.Clear();
        }
    }

    /// <summary>Runs one worker loop; queued to the thread pool by <see cref="EnsureLoop"/>.</summary>
    void IThreadPoolWorkItem.Execute() => _ = RunLoopAsync();

    /// <summary>Starts a worker loop unless the shard already runs as many as it may.</summary>
    private void EnsureLoop()
    {
        // The caller has just made work visible (a channel write or a ready item). A loop that is about
        // to exit decrements _activeLoops and then looks for work; this full fence orders our write
        // before our read of _activeLoops, so at least one of us sees the other (no lost wake-up).
        Interlocked.MemoryBarrier();
        int active = Volatile.Read(ref _activeLoops);
        while (active < _maxLoops)
        {
            int seen = Interlocked.CompareExchange(ref _activeLoops, active + 1, active);
            if (seen == active)
            {
                ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
                return;
            }

            active = seen;
        }
    }

    private async Task RunLoopAsync()
    {
        while (true)
        {
            try
            {
                while (TryTake(out Envelope<T> envelope))
                {
                    if (_runtime.IsAborted)
                    {
                        ReleaseKey(envelope.Key);
                        Abandon();
                        continue;
                    }

                    envelope.Attempts++;
                    Interlocked.Increment(ref Counters.InFlight);
                    Exception? error = null;
                    try
                    {
                        if (_runtime.SyncHandler is { } sync)
                        {
                            sync(envelope.Item, _runtime.AbortToken);
                        }
                        else
                        {
                            await _runtime.AsyncHandler!(envelope.Item, _runtime.AbortToken).ConfigureAwait(false);
                        }
                    }
                    catch (Exception ex)
                    {
                        error = ex;
                    }

                    Interlocked.Decrement(ref Counters.InFlight);
                    Settle(ref envelope, error);
                }
            }
            catch (Exception ex)
            {
                // Only a defect in the shard itself can get here (handler and callback exceptions are
                // caught where they happen). Keep the loop accounting straight and surface it loudly.
                Debug.Fail($"Shard loop failed: {ex}");
                Trace.TraceError("Engine: stage '{0}' shard {1} loop failed: {2}", _runtime.Name, Index, ex);
            }

            Interlocked.Decrement(ref _activeLoops);
            if (!HasWork() || !TryReenterLoop())
            {
                break;
            }
        }

        TryFinish();
    }

    /// <summary>Takes the next item to run: a ready one first, else the channel's head (claiming its key).</summary>
    private bool TryTake(out Envelope<T> envelope)
    {
        if (Volatile.Read(ref _readyCount) > 0)
        {
            lock (_lock)
            {
                if (_ready.TryDequeue(out envelope))
                {
                    _readyCount--;
                    return true;
                }
            }
        }

        if (!_trackKeys)
        {
            return _reader.TryRead(out envelope);
        }

        lock (_lock)
        {
            while (_parked < _parkLimit && _reader.TryRead(out envelope))
            {
                if (_runtime.IsAborted)
                {
                    Abandon();
                    continue;
                }

                if (envelope.Key.IsNone)
                {
                    return true;
                }

                if (_keys!.TryGetValue(envelope.Key, out KeyState<T>? state))
                {
                    state.Backlog.Enqueue(envelope);
                    _parked++;
                    continue;
                }

                _keys.Add(envelope.Key, _freeKeyStates.TryPop(out KeyState<T>? free) ? free : new KeyState<T>());
                return true;
            }
        }

        envelope = default;
        return false;
    }

    /// <summary>Whether a loop that is about to exit should run on (see <see cref="EnsureLoop"/>).</summary>
    private bool HasWork()
    {
        Interlocked.MemoryBarrier();
        return Volatile.Read(ref _readyCount) > 0 || (_reader.Count > 0 && (!_trackKeys || Volatile.Read(ref _parked) < _parkLimit));
    }

    private bool TryReenterLoop()
    {
        int active = Volatile.Read(ref _activeLoops);
        while (active < _maxLoops)
        {
            int seen = Interlocked.CompareExchange(ref _activeLoops, active + 1, active);
            if (seen == active)
            {
                return true;
            }

            active = seen;
        }

        return false;
    }

    /// <summary>Settles a handler run: processed, retried (the key stays busy), or dead-lettered.</summary>
    private void Settle(ref Envelope<T> envelope, Exception? error)
    {
        if (error is null)
        {
            Interlocked.Increment(ref Counters.Processed);
            ReleaseKey(envelope.Key);
            Unaccount();
            return;
        }

        if (_runtime.IsAborted && error is OperationCanceledException)
        {
            // The abort cancelled the handler: the item was not processed, and it was not its fault.
            ReleaseKey(envelope.Key);
            Abandon();
            return;
        }

        Interlocked.Increment(ref Counters.HandlerErrors);

        bool transient = IsTransient(error);
        if (transient && envelope.Attempts < _runtime.Retry.MaxAttempts)
        {
            ScheduleRetry(in envelope);
            return;
        }

        Interlocked.Increment(ref Counters.DeadLettered);
        if (_runtime.OnDeadLetter is { } onDeadLetter)
        {
            try
            {
                onDeadLetter(envelope.Item, new ItemFailure(_runtime.Name, Index, error, envelope.Attempts, transient));
            }
            catch (Exception)
            {
                Interlocked.Increment(ref Counters.CallbackErrors);
            }
        }

        ReleaseKey(envelope.Key);
        Unaccount();
    }

    private bool IsTransient(Exception error)
    {
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

    private void ScheduleRetry(in Envelope<T> envelope)
    {
        var retry = new PendingRetry<T>(this, envelope);
        bool aborted;
        lock (_lock)
        {
            aborted = _runtime.IsAborted;
            if (!aborted)
            {
                _retries.Add(retry);
            }
        }

        if (aborted)
        {
            ReleaseKey(envelope.Key);
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
            // The timer fired, or an abort cancelled the retry, before the timer was assigned: nobody
            // else will dispose it.
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
            shard._retries.Remove(retry);
            abandon = shard._runtime.IsAborted;
            if (!abandon)
            {
                // The key is still busy (a retry keeps it), so the retry runs before the key's later items.
                shard._ready.Enqueue(retry.Envelope);
                shard._readyCount++;
            }
        }

        if (abandon)
        {
            bool promoted = shard.ReleaseKey(retry.Envelope.Key);
            shard.Abandon();
            if (!promoted)
            {
                return;
            }
        }

        // A timer thread is no worker: start one for the item just made ready.
        shard.EnsureLoop();
    }

    /// <summary>
    /// Frees a key after its item settled, promoting the key's next parked item to the ready queue (the
    /// key stays busy for it). Promotion happens during an abort too: the item is then abandoned by the
    /// loop that takes it, which promotes the next, so no parked item is left behind when the abort's
    /// own sweep has already passed.
    /// </summary>
    /// <returns>Whether an item was promoted (a caller outside a worker loop must then make sure one runs).</returns>
    private bool ReleaseKey(in ItemKey key)
    {
        if (!_trackKeys || key.IsNone)
        {
            return false;
        }

        lock (_lock)
        {
            if (!_keys!.TryGetValue(key, out KeyState<T>? state))
            {
                return false;
            }

            if (state.Backlog.TryDequeue(out Envelope<T> next))
            {
                _parked--;
                _ready.Enqueue(next);
                _readyCount++;
                return true;
            }

            _keys.Remove(key);
            _freeKeyStates.Push(state);
            return false;
        }
    }

    /// <summary>Called by the channel (outside its lock) when DropOldest/DropNewest evicts an accepted item.</summary>
    private void OnEvicted(Envelope<T> envelope) =>
        Drop(envelope.Item, _runtime.FullMode == StageFullMode.DropOldest ? DropReason.DropOldest : DropReason.DropNewest);

    private void Drop(T item, DropReason reason)
    {
        Counters.CountDrop(reason);
        if (_runtime.OnDropped is { } onDropped)
        {
            try
            {
                onDropped(item, reason);
            }
            catch (Exception)
            {
                Interlocked.Increment(ref Counters.CallbackErrors);
            }
        }

        Unaccount();
    }

    private void Abandon()
    {
        Interlocked.Increment(ref Counters.Abandoned);
        Unaccount();
    }

    /// <summary>A write that was counted as outstanding was refused.</summary>
    private void Refuse()
    {
        Interlocked.Increment(ref Counters.Refused);
        Unaccount();
    }

    private void Unaccount()
    {
        if (Interlocked.Decrement(ref _outstanding) == 0 && _completing)
        {
            TryFinish();
        }
    }

    private void TryFinish()
    {
        if (!_completing || Volatile.Read(ref _outstanding) != 0 || Volatile.Read(ref _activeLoops) != 0)
        {
            return;
        }

        if (Interlocked.Exchange(ref _finishedFlag, 1) == 0)
        {
            _finished.TrySetResult();
            _onFinished(this);
        }
    }
}
