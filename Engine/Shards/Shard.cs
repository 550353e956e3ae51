using System.Diagnostics;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Engine.Dedupe;
using Engine.Internal;
using Engine.Queues;
using Engine.Routing;

namespace Engine.Shards;

/// <summary>
/// One shard of a stage: a bounded channel drained by up to <c>workers</c> worker loops. This file
/// holds the channel, the loops, the accounting and the lifecycle; <c>Shard.Writes.cs</c> the write
/// path, <c>Shard.Timing.cs</c> how loops time their runs, <c>Shard.Retry.cs</c> the retries and
/// <c>Shard.Dedupe.cs</c> replace-in-place. What may run next is a <see cref="KeyScheduler{T}"/>,
/// what dedupe remembers a <see cref="DedupeIndex{T}"/>; each is tested alone.
/// </summary>
/// <remarks>
/// <para>
/// Workers are started on demand, the way TPL Dataflow's blocks start their processing tasks: a write
/// starts a loop when fewer than the maximum are running, and a loop exits when it finds nothing to
/// do. A loop draws from two sources: the ready queue of its <see cref="KeyScheduler{T}"/> (items that became runnable
/// because their key was freed or their retry backoff ended) and the channel. Drawing both from one
/// loop is what lets a due retry or a freed key's next item run without a second channel to wait on.
/// </para>
/// <para>
/// Keys are tracked (by the <see cref="KeyScheduler{T}"/>) when order could otherwise break: several workers, retries
/// (a retry waits off the worker, so the worker goes on with other keys), or dedupe. A key with an
/// item in a handler, ready, or waiting for a retry is busy; its later items are parked in its backlog
/// and promoted one by one to the ready queue as it frees. The channel read and the key claim happen
/// under the shard lock, so two workers can never claim one key's items out of order.
/// </para>
/// <para>
/// Every accepted item is outstanding (<see cref="Outstanding"/>) until it settles (processed,
/// dead-lettered, dropped, superseded or abandoned). An item that enters the channel is counted by the
/// channel's own write (<see cref="CountingChannel{T}.Accepted"/>: the ring's claim), so a plain write
/// costs the shard no atomic instruction of its own; everything else, and every settle, is counted in
/// <see cref="_outstanding"/>. The shard finishes when it is completing, nothing is outstanding and no
/// loop runs; that is the only way it finishes, so completion cannot outrun an item.
/// </para>
/// </remarks>
[DebuggerDisplay("Shard {Index}: Waiting = {WaitingCount}, Loops = {_activeLoops}, Outstanding = {Outstanding}")]
internal sealed partial class Shard<T> : IThreadPoolWorkItem, IClaimSampler<Envelope<T>>
{
    /// <summary>The settings and handler shared with the other shards of the stage.</summary>
    private readonly ShardSettings<T> _runtime;

    /// <summary>Called once when the shard has finished.</summary>
    private readonly Action<Shard<T>> _onFinished;

    /// <summary>The shard's queue; it counts the items it accepts (see the type's remarks).</summary>
    private readonly CountingChannel<Envelope<T>> _channel;

    /// <summary>
    /// <see cref="_channel"/> when it is the ring, else null: the hot write and take call it directly
    /// (no virtual call, no copies of the envelope on the way); everything else goes through the
    /// channel's reader and writer.
    /// </summary>
    private readonly RingChannel<Envelope<T>>? _ring;

    private readonly ChannelReader<Envelope<T>> _reader;
    private readonly ChannelWriter<Envelope<T>> _writer;

    /// <summary>A successful channel write is a full fence (<see cref="CountingChannel{T}.WriteIsFenced"/>): the loop wake-up needs none of its own.</summary>
    private readonly bool _writeIsFenced;

    /// <summary>Writes that wait for room (see <see cref="WriteWaitingAsync"/>).</summary>
    private readonly ChannelWrite _waitingWrites = new();

    /// <summary>The most loops that may run at once (the shard's workers).</summary>
    private readonly int _maxLoops;

    /// <summary>
    /// One worker: loops run one at a time (a new one starts only after the last left, through the
    /// <see cref="_activeLoops"/> compare-exchange, which orders their writes), so counters only loops
    /// bump need no interlocked instruction.
    /// </summary>
    private readonly bool _singleLoop;

    /// <summary>Whether keys are claimed, parked and promoted (see the type's remarks).</summary>
    private readonly bool _trackKeys;

    /// <summary>
    /// Keys are tracked only because of retries, and one worker runs: see <see cref="ClaimsOnDemand"/>.
    /// </summary>
    private readonly bool _claimOnDemand;

    /// <summary>
    /// The most items held outside the channel (parked behind busy keys, or waiting for a retry's
    /// backoff) before the shard stops reading its channel: what keeps the memory of both bounded.
    /// </summary>
    private readonly int _holdLimit;

    /// <summary>Guards the key table, the ready queue, the held count, the retry set and the dedupe state.</summary>
    private readonly Lock _lock = new();

    /// <summary>The ready queue, busy keys and their backlogs. Under <see cref="_lock"/> (its counts readable without).</summary>
    private readonly KeyScheduler<T> _scheduler;

    /// <summary>Items waiting for a retry's backoff, each on a timer.</summary>
    private readonly RetryTimers<T> _retryTimers;

    /// <summary>Running worker loops; moved by compare-exchange.</summary>
    private int _activeLoops;

    /// <summary>Whether the next loop starts timing runs in groups (see <see cref="StartTiming"/>); one worker only.</summary>
    private bool _resumeGrouped;

    /// <summary>The last clock read of a loop that times runs in groups; 0 when no loop does (see <see cref="AcceptStamp"/>).</summary>
    /// <remarks>
    /// On a cache line of its own: a grouped loop writes it once per group, and the fields every write
    /// reads (the outstanding count, the loop count, the settings) must not share a line with it.
    /// </remarks>
    private PaddedLong _loopClock;

    /// <summary>
    /// With the channel's count (<see cref="Outstanding"/>): accepted items not yet settled, plus one for
    /// each write or group of writes that holds the shard open (see <see cref="BeginWrite"/>). Items the
    /// channel counted are settled here, so alone it runs below zero; with the channel's count it never
    /// does: an item settled twice would, which <see cref="Unaccount()"/> reports as the defect it is.
    /// </summary>
    private long _outstanding;

    /// <summary>Writers waiting for room (each holds one count in <see cref="_outstanding"/>, not yet accepted).</summary>
    private long _blockedWriters;

    /// <summary>Set once the shard takes no more writes.</summary>
    private volatile bool _completing;

    /// <summary>
    /// 1 after the channel is completed (after <see cref="_completing"/>): until then a write may
    /// still get in, so the shard may not finish even with nothing outstanding. Set with a full
    /// fence (see <see cref="Complete"/>).
    /// </summary>
    private int _closedFlag;

    /// <summary>Whether <see cref="_closedFlag"/> is set.</summary>
    private bool IsClosed => Volatile.Read(ref _closedFlag) != 0;

    /// <summary>1 once <see cref="_onFinished"/> has been called.</summary>
    private int _finishedFlag;

    /// <summary>Set when the shard found a defect in its own accounting (see <see cref="OnOutstandingNegative"/>).</summary>
    private InvalidOperationException? _defect;

    /// <summary>Who records the shard's figures; null when the stage's metrics are off (no clock is read then).</summary>
    private readonly ShardObserver? _observer;

    /// <summary>
    /// How long (in clock ticks) processed runs may wait in a loop's <see cref="ProcessedRuns"/> before
    /// they are counted, when the loop reads the clock (metrics on); 5 ms. Without a clock the count
    /// alone (<see cref="ProcessedRuns.MaxCount"/>) bounds it.
    /// </summary>
    private readonly long _flushTicks;

    /// <summary>See <see cref="RunTiming.ExactGroupTicks"/>.</summary>
    private readonly long _exactGroupTicks;

    /// <summary>See <see cref="RunTiming.FastRunTicks"/>.</summary>
    private readonly long _fastRunTicks;

    /// <summary><see cref="ShardSettings{T}.LatencySampling"/> less one: a write is timed when the accept count at its claim has none of these bits.</summary>
    private readonly long _samplingMask;

    /// <summary>The observer wants kinds; read once, so a run costs no call to ask.</summary>
    private readonly bool _countsKinds;

    /// <summary>The observer wants end-to-end latency (a pipeline's sink); read once, so a settle costs no call to ask.</summary>
    private readonly bool _recordsEndToEnd;

    public Shard(ShardSettings<T> runtime, int index, bool keyed, int workers, Action<Shard<T>> onFinished, ShardObserver? observer)
    {
        _runtime = runtime;
        _onFinished = onFinished;
        Index = index;
        _maxLoops = workers;
        _singleLoop = workers == 1;
        _dedupe = keyed ? runtime.Dedupe : null;
        _trackKeys = keyed && (workers > 1 || runtime.Retry.MaxAttempts > 1 || _dedupe is not null || runtime.HoldsForTime);

        // A delayed write claims its key on the writer's thread, so only the worker may not claim alone.
        _claimOnDemand = _trackKeys && workers == 1 && _dedupe is null && runtime.Delays is null;
        _scheduler = new KeyScheduler<T>(_lock, _trackKeys);
        if (runtime.Delays is not null)
        {
            _scheduler.DelayedTurn = OnDelayedTurn;
        }

        _retryTimers = new RetryTimers<T>(_lock, runtime.TimeProvider, OnRetryDue);
        _holdLimit = runtime.Capacity;
        _observer = observer;
        _countsKinds = observer?.CountsKinds ?? false;
        _recordsEndToEnd = observer?.RecordsEndToEnd ?? false;
        Debug.Assert(BitOperations.IsPow2(runtime.LatencySampling), "the sampling interval is a validated power of two");
        _samplingMask = runtime.LatencySampling - 1;
        _flushTicks = observer is null ? long.MaxValue : Math.Max(1, runtime.TimeProvider.TimestampFrequency / 200);
        _exactGroupTicks = RunTiming.ExactGroupTicks(runtime.TimeProvider.TimestampFrequency);
        _fastRunTicks = RunTiming.FastRunTicks(runtime.TimeProvider.TimestampFrequency);
        if (_dedupe is not null)
        {
            _index = new DedupeIndex<T>(_lock, _dedupe.Replace, _dedupe.ContentHash is null ? 0 : _dedupe.TrackedKeysPerShard);
        }

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
        // The ring evicts nothing, so the drop-oldest and drop-newest modes stay on the runtime's channel.
        // The ring times its sampled claims itself (see StampFor); only a shard with metrics records waits.
        _channel = runtime.Queue == ShardQueue.Ring && options.FullMode == BoundedChannelFullMode.Wait
            ? new RingChannel<Envelope<T>>(runtime.Capacity, observer is null ? null : this, runtime.LatencySampling)
            : new CountedBoundedChannel<Envelope<T>>(options, OnEvicted);
        _ring = _channel as RingChannel<Envelope<T>>;
        _reader = _channel.Reader;
        _writer = _channel.Writer;
        _writeIsFenced = _channel.WriteIsFenced;
        Counters = new ShardCounters();
    }

    /// <summary>The shard's number: 0..Shards-1 for keyed shards, Shards for the unkeyed one.</summary>
    public int Index { get; }

    /// <summary>A defect the shard found in its own accounting, which ended it early; null normally.</summary>
    public InvalidOperationException? Defect => Volatile.Read(ref _defect);

    /// <summary>The shard's item counters; items accepted into the channel are counted by the channel (see <see cref="Accepted"/>).</summary>
    public ShardCounters Counters { get; }

    /// <summary>Items accepted so far: the channel's count plus those accepted outside it (a replace, a drop by the full mode).</summary>
    public long Accepted => Volatile.Read(ref Counters.AcceptedOutsideChannel) + _channel.Accepted;

    /// <summary>
    /// Accepted items not yet settled, plus open writes. Reads <see cref="_outstanding"/> before the
    /// channel's count: a settle in between lowers the first, a write in between raises the second,
    /// so the sum is never below the true figure at the second read (a finish is never seen early).
    /// </summary>
    private long Outstanding
    {
        get
        {
            long own = Volatile.Read(ref _outstanding);
            return own + _channel.Accepted;
        }
    }

    /// <summary>The shard's workers.</summary>
    public int Workers => _maxLoops;

    /// <summary>
    /// Whether the shard claims keys only when it must. With one worker and no dedupe, keys are tracked
    /// only so that a retry keeps its key busy while the worker goes on with other keys; while no key
    /// is busy, the lone worker runs the channel's items in order without claiming them (nothing else
    /// can run one of their keys meanwhile), and a run that fails claims its key then, for the retry.
    /// Only that worker claims keys, so "no key is busy", once read, stays true until it claims one.
    /// </summary>
    public bool ClaimsOnDemand => _claimOnDemand;

    /// <summary>Items waiting in the channel, parked, ready, or waiting for a retry.</summary>
    public int WaitingCount
    {
        get
        {
            lock (_lock)
            {
                AssertLocked();
                return _reader.Count + Held + _scheduler.ReadyCount;
            }
        }
    }

    /// <summary>The shard's internal state in one line, for diagnostics.</summary>
    public override string ToString()
    {
        lock (_lock)
        {
            AssertLocked();
            return $"shard {Index}: outstanding={Outstanding} loops={Volatile.Read(ref _activeLoops)} blocked={Volatile.Read(ref _blockedWriters)} completing={_completing} finished={_finishedFlag} " +
                $"channel={_reader.Count} ready={_scheduler.ReadyCount} parked={_scheduler.Parked} retrying={_retryTimers.Count} keys={_scheduler.BusyKeys} " +
                $"waitingKeys={_index?.WaitingKeys ?? 0} inFlight={Volatile.Read(ref Counters.InFlight)}";
        }
    }

    /// <summary>The shard's counts, including what is waiting and pending now.</summary>
    public StageCounts ReadCounts()
    {
        int waiting;
        (int Delayed, int Retrying) timed;
        int waitingKeys;
        int trackedKeys;
        long evictions;
        lock (_lock)
        {
            AssertLocked();
            waiting = _reader.Count + Held + _scheduler.ReadyCount;
            timed = TimedDepthLocked();
            waitingKeys = _index?.WaitingKeys ?? 0;
            trackedKeys = _index?.TrackedKeys ?? 0;
            evictions = _index?.ContentEvictions ?? 0;
        }

        // Outstanding holds one count for each open write (see BeginWrite): writers waiting for room are
        // left out here, and once the shard has finished nothing can be accepted any more, so nothing
        // is pending then, whatever refused write is still under way.
        long pending = Volatile.Read(ref _finishedFlag) != 0 ? 0 : Math.Max(0, Outstanding - Volatile.Read(ref _blockedWriters));
        return Counters.Read(_channel.Accepted, waiting, pending) with
        {
            DedupeWaitingKeys = waitingKeys,
            ContentTrackedKeys = trackedKeys,
            ContentEvictions = evictions,
            WaitingDelayed = timed.Delayed,
            WaitingRetry = timed.Retrying,
            RateLimiterEvictions = _runtime.RateLimit?.Evictions(Index) ?? 0,
        };
    }

    /// <summary>Stops taking writes; the shard finishes once everything accepted has settled.</summary>
    public void Complete()
    {
        _completing = true;
        _writer.TryComplete();

        // A full fence between closing and TryFinish's reads: a loop that exits decrements
        // _activeLoops (a full fence) and then reads the flag, so at least one of the two sees the
        // other. A volatile write alone may be overtaken by the read after it (store-load
        // reordering), and then both could miss: the shard never finished and Completion hung
        // (seen once in a benchmark run: outstanding 0, no loop, closed, not finished).
        Interlocked.Exchange(ref _closedFlag, 1);
        OnCompletingTimed();
        TryFinish();
    }

    /// <summary>
    /// Abandons everything the shard holds that is not inside a handler: the channel, key backlogs,
    /// the ready queue, pending retries and items waiting for their time. Call after the runtime is marked aborted and the shard completed.
    /// </summary>
    public void Abort()
    {
        Debug.Assert(_runtime.IsAborted && _completing, "Abort follows the runtime's abort and the shard's completion.");
        lock (_lock)
        {
            AssertLocked();
            while (_reader.TryRead(out _))
            {
                Abandon();
            }

            for (int removed = _scheduler.RemoveWaiting(); removed > 0; removed--)
            {
                Abandon();
            }

            for (int cancelled = _retryTimers.CancelAll(); cancelled > 0; cancelled--)
            {
                Abandon();
            }

            OnAbortTimedLocked();
            _index?.ForgetWaiting();
        }
    }

    /// <summary>Runs one worker loop; queued to the thread pool by <see cref="EnsureLoop"/>.</summary>
    void IThreadPoolWorkItem.Execute() => _ = RunLoopAsync();

    /// <summary>Starts a worker loop unless the shard already runs as many as it may.</summary>
    /// <param name="fenced">The caller issued an interlocked operation after making its work visible, which already is the fence this needs.</param>
    private void EnsureLoop(bool fenced = false)
    {
        // The caller has just made work visible (a channel write or a ready item). A loop that is about
        // to exit decrements _activeLoops (a full fence) and then looks for work; a full fence between
        // our write and our read of _activeLoops means at least one of us sees the other, so no
        // wake-up is lost. Callers that just bumped a counter with Interlocked have it already.
        if (!fenced)
        {
            Interlocked.MemoryBarrier();
        }

        if (TryEnterLoop())
        {
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }
    }

    /// <summary>Takes a loop slot if fewer than the maximum loops run.</summary>
    private bool TryEnterLoop()
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

    private async Task RunLoopAsync()
    {
        while (true)
        {
            ShardWorker? slot = _observer?.ClaimWorker();
            try
            {
                if (_runtime.SyncHandler is { } sync)
                {
                    DrainSync(sync, slot);
                }
                else
                {
                    var processed = default(ProcessedRuns);
                    RunTiming timing = StartTiming();
                    try
                    {
                        long previousEnd = 0;
                        while (TryTake(out Envelope<T> envelope))
                        {
                            if (!BeginRun(ref envelope, slot, NextRunStart(ref timing, slot, previousEnd), out long start))
                            {
                                previousEnd = timing.Grouped ? timing.Start : 0;
                                continue;
                            }

                            Activity? run = envelope.Trace is null ? null : StartRunActivity(in envelope);
                            Exception? error = null;
                            try
                            {
                                ValueTask handled = _runtime.AsyncHandler is { } handler
                                    ? handler(envelope.Item, _runtime.AbortToken)
                                    : _runtime.ContextHandler!(envelope.Item, new ItemContext(envelope.EntryTimestamp, envelope.Attempts, _runtime.TimeProvider), _runtime.AbortToken);
                                if (handled.IsCompletedSuccessfully)
                                {
                                    // Completed at once: no await, so no state-machine round for a handler that did not wait.
                                    handled.GetAwaiter().GetResult();
                                }
                                else
                                {
                                    // The loop is about to wait: what it processed is counted, and a
                                    // group of fast runs recorded, before it does.
                                    start = TimeAlone(ref timing, slot, start);
                                    FlushProcessed(ref processed);
                                    await handled.ConfigureAwait(false);
                                }
                            }
                            catch (Exception ex)
                            {
                                error = ex;
                            }

                            previousEnd = FinishRun(ref envelope, error, slot, start, run, ref timing, ref processed);
                        }
                    }
                    finally
                    {
                        StopTiming(ref timing, slot);
                        FlushProcessed(ref processed);
                    }
                }
            }
            catch (Exception ex)
            {
                // Only a defect in the shard itself can get here (handler and callback exceptions are
                // caught where they happen). Keep the loop accounting straight and surface it loudly.
                Trace.TraceError("Engine: stage '{0}' shard {1} loop failed: {2}", _runtime.Name, Index, ex);
                Debug.Fail($"Shard loop failed: {ex}");
            }

            slot?.Release();
            Interlocked.Decrement(ref _activeLoops);
            if (!HasWork() || !TryEnterLoop())
            {
                break;
            }
        }

        FlushDeferred();
        TryFinish();
    }

    /// <summary>The worker loop for a synchronous handler: runs items until none is left to take.</summary>
    /// <remarks>
    /// Kept out of <see cref="RunLoopAsync"/> and compiled fully optimised from the first call: a loop
    /// run drains about a channel's worth of items and ends, so the async method's own loop rarely
    /// reaches on-stack replacement and, on a busy machine, can stay unoptimised for many runs
    /// (measured: about twice the time per item).
    /// </remarks>
    /// <remarks>With metrics on, runs may be timed in groups: see <see cref="RunTiming"/>.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void DrainSync(Action<T, CancellationToken> handler, ShardWorker? slot)
    {
        var processed = default(ProcessedRuns);
        RunTiming timing = StartTiming();
        long previousEnd = 0;
        try
        {
            while (TryTake(out Envelope<T> envelope))
            {
                if (!BeginRun(ref envelope, slot, NextRunStart(ref timing, slot, previousEnd), out long start))
                {
                    previousEnd = timing.Grouped ? timing.Start : 0;
                    continue;
                }

                Activity? run = envelope.Trace is null ? null : StartRunActivity(in envelope);
                Exception? error = null;
                try
                {
                    handler(envelope.Item, _runtime.AbortToken);
                }
                catch (Exception ex)
                {
                    error = ex;
                }

                previousEnd = FinishRun(ref envelope, error, slot, start, run, ref timing, ref processed);
            }
        }
        finally
        {
            StopTiming(ref timing, slot);
            FlushProcessed(ref processed);
        }
    }

    /// <summary>
    /// Prepares a taken item for its handler run, or settles it at once (abandoned after an abort, or
    /// superseded as a content duplicate).
    /// </summary>
    /// <param name="envelope">The item.</param>
    /// <param name="slot">The loop's worker slot (null with metrics off).</param>
    /// <param name="previousEnd">
    /// When the loop's previous run ended, if it ended just before this take with nothing else run
    /// in between (see <see cref="EndRun"/>), else 0. It then serves as this run's start: one clock
    /// read per item while a loop drains, the take in between counted as work.
    /// </param>
    /// <param name="start">When the run starts (0 with metrics off).</param>
    /// <returns>Whether the handler should run.</returns>
    private bool BeginRun(ref Envelope<T> envelope, ShardWorker? slot, long previousEnd, out long start)
    {
        start = 0;
        if (Volatile.Read(ref _deferredCallbackCount) > 0)
        {
            // User callbacks run here: the previous run's end is no longer now.
            previousEnd = 0;
            FlushDeferred();
        }

        if (_runtime.IsAborted)
        {
            Release(in envelope, null);
            Abandon();
            return false;
        }

        // A bitwise test: Enum.HasFlag boxes in unoptimised code, which allocated per item.
        if ((envelope.Flags & EnvelopeFlags.ContentDuplicate) != 0)
        {
            Release(in envelope, null);
            Supersede(envelope.Item, SupersedeReason.Content);
            return false;
        }

        envelope.Attempts++;
        Bump(ref Counters.InFlight, 1);
        if (_observer is { } observer)
        {
            start = previousEnd != 0 ? previousEnd : _runtime.TimeProvider.GetTimestamp();
            // A run that starts at the previous run's end can precede its item's accept by a little:
            // the wait is then 0, never "no wait" (−1 is a retry's).
            // An item the write did not time (AcceptedTimestamp 0, see StampFor) records no wait either.
            observer.RunStarted(slot!, start, envelope.Attempts == 1 && envelope.AcceptedTimestamp != 0 ? Math.Max(0, start - envelope.AcceptedTimestamp) : -1);
        }

        return true;
    }

    /// <summary>Records a finished handler run and settles its item (ending the run's activity, if it is traced, with the outcome).</summary>
    /// <returns>
    /// When the run ended, if the next run may start at that instant: metrics are on and the item
    /// was processed, so settling ran no user callback. Otherwise 0.
    /// </returns>
    /// <param name="envelope">The item.</param>
    /// <param name="error">What the handler threw, or null.</param>
    /// <param name="slot">The loop's worker slot (null with metrics off).</param>
    /// <param name="start">When the run started; with <paramref name="timed"/> false, the instant it settles as of (a group's end, already recorded, or a run inside a group: the group's start).</param>
    /// <param name="run">The run's activity, or null when it is not traced (see <see cref="Settle"/>).</param>
    /// <param name="processed">The loop's processed runs not yet counted.</param>
    /// <param name="timed">False when the run belongs to a group of runs timed together (<see cref="RunTiming"/>): no clock read here.</param>
    private long EndRun(ref Envelope<T> envelope, Exception? error, ShardWorker? slot, long start, Activity? run, ref ProcessedRuns processed, bool timed = true)
    {
        Bump(ref Counters.InFlight, -1);
        long end = 0;
        if (_observer is { } observer)
        {
            if (timed)
            {
                end = _runtime.TimeProvider.GetTimestamp();
                observer.RunEnded(slot!, start, end);
            }
            else
            {
                end = start;
            }

            if (_countsKinds)
            {
                observer.Kind(SafeKind(envelope.Item), error is null ? RunOutcome.Processed : RunOutcome.Failed);
            }
        }

        if (error is null)
        {
            SettleProcessed(in envelope, end, run, ref processed);
            return end;
        }

        Settle(ref envelope, error, end, run);
        return 0;
    }

    /// <summary>
    /// Settles a processed run in a worker loop. Its counts (processed, and one off the outstanding
    /// ones) are gathered in <paramref name="processed"/> and applied together (see
    /// <see cref="ProcessedRuns"/>): one interlocked instruction for many runs, on a cache line the
    /// shard's writers use too.
    /// </summary>
    /// <remarks>
    /// The run's activity ends here, before its count is applied: the shard cannot finish before
    /// then, so every run's activity has ended when <c>Completion</c> completes.
    /// </remarks>
    private void SettleProcessed(in Envelope<T> envelope, long end, Activity? run, ref ProcessedRuns processed)
    {
        RecordEndToEnd(in envelope, end);
        Release(in envelope, succeeded: true);
        StopRunActivity(run, Settlement.Processed, null);
        processed.Count++;
        if (processed.Count == 1)
        {
            processed.Since = end;
        }

        if (processed.Count >= ProcessedRuns.MaxCount || (end - processed.Since) >= _flushTicks)
        {
            FlushProcessed(ref processed);
        }
    }

    /// <summary>Applies the processed runs a loop gathered; the last outstanding count of a completing shard finishes it.</summary>
    private void FlushProcessed(ref ProcessedRuns processed)
    {
        int count = processed.Count;
        if (count == 0)
        {
            return;
        }

        processed.Count = 0;
        Bump(ref Counters.Processed, count);
        Unaccount(count);
    }

    /// <summary>
    /// Takes the next item to run: a ready one first, else the channel's head (claiming its key, or
    /// parking the item behind it). A dedupe slot is taken out of its dictionary here.
    /// </summary>
    private bool TryTake(out Envelope<T> envelope)
    {
        if (_scheduler.ReadyCount > 0)
        {
            lock (_lock)
            {
                AssertLocked();
                if (_scheduler.TryDequeueReady(out envelope))
                {
                    // A ready item holds its key (promoted behind it, or kept busy by its retry).
                    if (_trackKeys)
                    {
                        envelope.Flags |= EnvelopeFlags.KeyClaimed;
                    }

                    if (envelope.Slot is not null)
                    {
                        TakeSlot(ref envelope);
                    }

                    return true;
                }
            }
        }

        if (!_trackKeys || (_claimOnDemand && _scheduler.BusyKeys == 0))
        {
            if (Held < _holdLimit)
            {
                return TryReadChannel(out envelope);
            }

            envelope = default;
            return false;
        }

        lock (_lock)
        {
            AssertLocked();
            while (Held < _holdLimit && TryReadChannel(out envelope))
            {
                if (_runtime.IsAborted)
                {
                    // Its slot stops being replaceable now, not at the abort's sweep: the shard may
                    // finish (and a newer write could replace into a slot no queue holds) before that.
                    if (envelope.Slot is { } abandoned)
                    {
                        _index!.Unregister(abandoned);
                        ReturnSlot(abandoned);
                    }

                    Abandon();
                    continue;
                }

                if (!_scheduler.TryClaim(in envelope, out KeyState<T>? busy))
                {
                    // Parked behind its busy key. A promotion by a stale retry lands in the ready
                    // queue, which this loop reads next.
                    _ = Parked(busy!, in envelope);
                    continue;
                }

                envelope.Flags |= EnvelopeFlags.KeyClaimed;
                if ((envelope.Flags & EnvelopeFlags.Delayed) != 0 && TakenDelayedLocked(ref envelope))
                {
                    // A delayed write's item, not due yet: it waits on a timer with its key (Shard.Timed.cs).
                    continue;
                }

                if (envelope.Slot is not null)
                {
                    TakeSlot(ref envelope);
                }

                return true;
            }
        }

        envelope = default;
        return false;
    }

    /// <summary>In a pipeline's sink, an item settled here (processed, or failed for good) ends its journey: record its end-to-end latency.</summary>
    private void RecordEndToEnd(in Envelope<T> envelope, long end)
    {
        if (_recordsEndToEnd && envelope.EntryTimestamp != 0)
        {
            // Inside a group of runs timed together, "end" is the group's start, which can precede
            // the entry of an item written meanwhile (see RunTiming): never a negative latency.
            _observer!.EndToEndLatency(Math.Max(0, end - envelope.EntryTimestamp), end);
        }
    }

    /// <summary>The item's kind for the metrics' kind dimension; a throwing selector counts a callback error and gives none.</summary>
    private string? SafeKind(T item)
    {
        try
        {
            return _runtime.KindSelector!(item);
        }
        catch (Exception)
        {
            Interlocked.Increment(ref Counters.CallbackErrors);
            return null;
        }
    }

    /// <summary>Adds to a counter only worker loops touch: plainly with one worker, interlocked with several.</summary>
    private void Bump(ref long counter, long delta)
    {
        if (_singleLoop)
        {
            Volatile.Write(ref counter, counter + delta);
        }
        else
        {
            Interlocked.Add(ref counter, delta);
        }
    }

    /// <summary>What follows when an item was parked behind its busy key: its dedupe slot becomes held. Under <see cref="_lock"/>.</summary>
    /// <returns>Whether the key's stale retry gave way and an item became ready (see <see cref="SupersedeStaleRetry"/>).</returns>
    private bool Parked(KeyState<T> state, in Envelope<T> envelope)
    {
        AssertLocked();
        if ((envelope.Flags & EnvelopeFlags.Delayed) != 0)
        {
            // A delayed write's item keeps its due time; its turn is OnDelayedTurn's (Shard.Timed.cs).
            ParkedDelayedLocked(envelope.Slot);
            return false;
        }

        if (envelope.Slot is not { } slot)
        {
            return false;
        }

        slot.State = SlotState.Held;
        return SupersedeStaleRetry(state, slot);
    }

    /// <summary>
    /// Whether a loop that is about to exit should run on (see <see cref="EnsureLoop"/>). The caller's
    /// decrement of <see cref="_activeLoops"/> is the full fence the wake-up protocol needs.
    /// </summary>
    private bool HasWork()
    {
        return _scheduler.ReadyCount > 0 || (_reader.Count > 0 && Held < _holdLimit);
    }

    /// <summary>
    /// Items held outside the channel (parked behind busy keys, or waiting for a retry's backoff);
    /// readable without the lock. At <see cref="_holdLimit"/> the shard stops reading its channel.
    /// </summary>
    private int Held => _scheduler.Parked + _retryTimers.Count;

    /// <summary>Settles a failed handler run: retried (the key stays busy), dead-lettered, or abandoned by an abort (a processed one: <see cref="SettleProcessed"/>).</summary>
    /// <param name="envelope">The item.</param>
    /// <param name="error">What the handler threw.</param>
    /// <param name="end">When the run ended (0 with metrics off), for end-to-end latency.</param>
    /// <param name="run">
    /// The run's activity, or null when it is not traced. It is ended with the outcome just before the
    /// count that may finish the shard, so every run's activity has ended when <c>Completion</c> completes.
    /// </param>
    private void Settle(ref Envelope<T> envelope, Exception error, long end, Activity? run)
    {

        if (_runtime.IsAborted)
        {
            // The abort cancelled the handler (or stopped what it was writing to): the item was not
            // processed, and retrying or dead-lettering it would blame it for the abort.
            Release(in envelope, null);
            StopRunActivity(run, Settlement.Abandoned, error);
            Abandon();
            return;
        }

        if (_runtime.HoldsForTime && TrySettleTimed(ref envelope, error, run))
        {
            // A requeue, a deferral or a rate limit: the item waits for its time (or was dropped), no failure.
            return;
        }

        Interlocked.Increment(ref Counters.HandlerErrors);
        bool transient = IsTransient(error);
        if (_runtime.OnHandlerError is { } onHandlerError)
        {
            Call(onHandlerError, envelope.Item, new ItemFailure(_runtime.Name, Index, error, envelope.Attempts, transient));
        }
        if (transient && envelope.Attempts < _runtime.Retry.MaxAttempts)
        {
            StopRunActivity(run, Settlement.Retrying, error);
            ScheduleRetry(in envelope);
            return;
        }

        Interlocked.Increment(ref Counters.DeadLettered);
        RecordEndToEnd(in envelope, end);
        if (_countsKinds)
        {
            _observer!.Kind(SafeKind(envelope.Item), RunOutcome.DeadLettered);
        }

        if (_runtime.OnDeadLetter is not null)
        {
            Call(_runtime.OnDeadLetter, envelope.Item, new ItemFailure(_runtime.Name, Index, error, envelope.Attempts, transient));
        }

        Release(in envelope, succeeded: false);
        StopRunActivity(run, Settlement.DeadLettered, error);
        Unaccount();
    }

    /// <summary>
    /// Lets go of a settled item: records its content (<paramref name="succeeded"/> true), forgets it
    /// (false: a dead letter clears its key's content, so a later identical update runs again) or
    /// neither (null), returns its slot, and frees its key.
    /// </summary>
    private void Release(in Envelope<T> envelope, bool? succeeded)
    {
        if (!_trackKeys || envelope.Key.IsNone)
        {
            return;
        }

        if ((envelope.Flags & EnvelopeFlags.KeyClaimed) == 0)
        {
            Debug.Assert(_claimOnDemand && envelope.Slot is null, "only a shard that claims on demand runs an item without its key");
            return;
        }

        lock (_lock)
        {
            AssertLocked();
            if (envelope.Slot is { } slot)
            {
                if (succeeded is { } ok)
                {
                    _index!.Settled(slot, ok);
                }

                ReturnSlot(slot);
            }

            ReleaseKeyLocked(envelope.Key);
        }
    }

    /// <summary>
    /// Frees a key after its item settled, promoting the key's next parked item to the ready queue (the
    /// key stays busy for it). Promotion happens during an abort too: the item is then abandoned by the
    /// loop that takes it, which promotes the next, so no parked item is left behind when the abort's
    /// own sweep has already passed. Under <see cref="_lock"/>.
    /// </summary>
    /// <returns>Whether an item was promoted (a caller outside a worker loop must then make sure one runs).</returns>
    private bool ReleaseKeyLocked(in ItemKey key)
    {
        AssertLocked();
        return _scheduler.Release(in key);
    }

    /// <summary>
    /// Called by the channel (outside its own lock) when DropOldest/DropNewest evicts an accepted item.
    /// In a dedupe stage the evicting write holds the shard's lock, so the callback is deferred.
    /// </summary>
    private void OnEvicted(Envelope<T> envelope)
    {
        DropReason reason = _runtime.FullMode == StageFullMode.DropOldest ? DropReason.DropOldest : DropReason.DropNewest;
        if (envelope.Slot is not { } slot)
        {
            Drop(envelope.Item, reason);
            return;
        }

        lock (_lock)
        {
            AssertLocked();
            T item = slot.Item;
            slot.State = SlotState.Dropped;
            _index!.Unregister(slot);

            ReturnSlot(slot);
            Counters.CountDrop(reason);
            if (_runtime.OnDropped is not null)
            {
                // Settled once its callback has run (see _deferredCallbacks).
                Defer(item, drop: true, (int)reason);
            }
            else
            {
                Unaccount();
            }
        }

        if (!_lock.IsHeldByCurrentThread)
        {
            FlushDeferred();
        }
    }

    private void Drop(T item, DropReason reason)
    {
        Counters.CountDrop(reason);
        NotifyDropped(item, reason);
        Unaccount();
    }

    private void NotifyDropped(T item, DropReason reason) => Call(_runtime.OnDropped, item, reason);

    /// <summary>Calls a user callback; what it throws is counted as a callback error and never escapes a worker or a writer.</summary>
    private void Call<TArgument>(Action<T, TArgument>? callback, T item, TArgument argument)
    {
        if (callback is null)
        {
            return;
        }

        try
        {
            callback(item, argument);
        }
        catch (Exception)
        {
            Interlocked.Increment(ref Counters.CallbackErrors);
        }
    }

    private void Abandon()
    {
        Interlocked.Increment(ref Counters.Abandoned);
        Unaccount();
    }

    /// <summary>
    /// Checks, in debug builds, that the caller holds the shard's lock and that what the lock guards is
    /// consistent. Called at the top of every method that must run under the lock.
    /// </summary>
    [Conditional("DEBUG")]
    private void AssertLocked()
    {
        Debug.Assert(_lock.IsHeldByCurrentThread, "this must run under the shard's lock");
        Debug.Assert(_deferredCallbackCount == _deferredCallbacks.Count, "the deferred count mirrors the deferred queue");
        Debug.Assert(Outstanding >= 0, "outstanding is never negative");
        Debug.Assert(_scheduler.TracksKeys == _trackKeys, "keys are tracked exactly when the shard says so");
    }

    /// <summary>Settles one count of <see cref="_outstanding"/>; the last one of a completing shard finishes it.</summary>
    private void Unaccount() => Unaccount(1);

    /// <summary>Settles <paramref name="count"/> counts of <see cref="_outstanding"/> at once (see <see cref="Unaccount()"/>).</summary>
    private void Unaccount(long count)
    {
        // The channel's count is read after the interlocked add, so it is never short of the items
        // accepted by then: the sum errs high, never reporting a defect or a finish that is not there.
        long left = Interlocked.Add(ref _outstanding, -count) + _channel.Accepted;
        if (left <= 0)
        {
            if (left < 0)
            {
                OnOutstandingNegative();
            }
            else if (_completing)
            {
                TryFinish();
            }
        }
    }

    /// <summary>
    /// An item was settled twice (or settled without having been counted): a defect in the shard. The
    /// count can no longer reach zero, so instead of a stage that never completes, this fails loudly:
    /// an assertion in debug builds (the tests run those), and in release builds the stage's
    /// <c>Completion</c> faults with the shard's state.
    /// </summary>
    private void OnOutstandingNegative()
    {
        var error = new InvalidOperationException(
            $"Engine defect: stage '{_runtime.Name}' shard {Index} settled more items than it accepted ({ToString()}). Its counts are no longer exact.");
        Trace.TraceError("Engine: {0}", error.Message);
        Debug.Fail(error.Message);
        if (Interlocked.CompareExchange(ref _defect, error, null) is null && Interlocked.Exchange(ref _finishedFlag, 1) == 0)
        {
            _onFinished(this);
        }
    }

    private void TryFinish()
    {
        if (!IsClosed || Outstanding != 0 || Volatile.Read(ref _activeLoops) != 0)
        {
            return;
        }

        if (Interlocked.Exchange(ref _finishedFlag, 1) == 0)
        {
            _onFinished(this);
        }
    }
}
