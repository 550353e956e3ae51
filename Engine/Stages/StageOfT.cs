using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Engine.Dedupe;
using Engine.Metrics;
using Engine.Inspection;
using Engine.Internal;
using Engine.Routing;
using Engine.Shards;
using Engine.Tracing;

namespace Engine.Stages;

/// <summary>
/// A keyed, sharded stage: items are routed by key to bounded channel shards and handled by each
/// shard's workers, one key at a time and in order, with retries and dead letters. Create one with
/// <see cref="Stage.Create{T}(StageOptions{T}, Func{T, CancellationToken, ValueTask})"/>.
/// </summary>
/// <remarks>
/// Every accepted item ends processed, dead-lettered, dropped by the full mode, or abandoned by an
/// abort, and each outcome is counted (<see cref="GetCounts"/>). Writes and counters touch only the
/// item's own shard; no lock is shared across shards.
/// </remarks>
/// <typeparam name="T">The item type.</typeparam>
[DebuggerDisplay("Stage {Name}: Shards = {ShardCount}, Completed = {Completion.IsCompleted}")]
public sealed partial class Stage<T> : IAsyncDisposable, IStageMetricsSource
{
    private readonly ShardSettings<T> _runtime;
    private readonly Func<T, ItemKey>? _keySelector;

    /// <summary>Keyed shards first, then the unkeyed shard at index <c>Shards</c>.</summary>
    private readonly Shard<T>[] _shards;

    private readonly int _keyedShards;

    /// <summary>Maps a key's hash to one of the keyed shards.</summary>
    private readonly ShardRouter _router;
    private readonly TimeSpan _disposeDrainTimeout;
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Shards that have not finished yet.</summary>
    private int _unfinishedShards;

    /// <summary>The shards' figures, the kind dimension and the snapshot cursors.</summary>
    private readonly StageMetrics _figures;

    /// <summary>Reads one shard's counts, for <see cref="_figures"/>' snapshots (made once, not per snapshot).</summary>
    private readonly Func<int, StageCounts> _readCounts;

    /// <summary>The cursor of <see cref="TakeMetricsSnapshot()"/>.</summary>
    private readonly MetricsCursor _ownCursor;

    /// <summary>The meter the stage publishes on: the static one, or the one of <see cref="StageOptions{T}.MeterFactory"/>.</summary>
    private readonly EngineMeter _meter;

    /// <summary>What a watching clock's harness sees of the stage (see <see cref="IWatchingClock"/>); null on any other clock.</summary>
    private readonly RunWatch<T>? _watch;

    internal Stage(StageOptions<T> options, ShardSettings<T> runtime, RunWatch<T>? watch = null)
    {
        _watch = watch;
        _runtime = runtime;
        _keySelector = options.KeySelector;
        _keyedShards = options.Shards;
        _router = new ShardRouter(options.Shards);
        _disposeDrainTimeout = options.DisposeDrainTimeout;
        long started = runtime.TimeProvider.GetTimestamp();
        _meter = EngineMeter.For(options.MeterFactory);
        KindTable? kinds = runtime.KindSelector is null ? null : new KindTable(options.MaxKinds);
        _shards = new Shard<T>[_keyedShards + 1];
        var metrics = new ShardMetrics?[_shards.Length];
        var workers = new int[_shards.Length];
        for (int i = 0; i < _shards.Length; i++)
        {
            bool keyed = i < _keyedShards;
            workers[i] = keyed ? options.WorkersPerShard : options.UnkeyedWorkers;
            metrics[i] = runtime.MetricsEnabled
                ? new ShardMetrics(workers[i], runtime.RecordsEndToEnd, kinds, started, runtime.TimeProvider.TimestampFrequency, EngineMeter.TagsFor(runtime.PipelineName, runtime.Name, i), _meter)
                : null;
            _shards[i] = new Shard<T>(runtime, i, keyed, workers[i], OnShardFinished, metrics[i]);
        }

        _figures = new StageMetrics(runtime.PipelineName, runtime.Name, runtime.TimeProvider, runtime.MetricsEnabled, runtime.RecordsEndToEnd, metrics, workers, kinds, started);
        _readCounts = shard => _shards[shard].ReadCounts();

        _unfinishedShards = _shards.Length;
        _ownCursor = OpenMetricsCursor();
        _meter.Register(this);
        if (watch is not null)
        {
            ((IWatchingClock)runtime.TimeProvider).Watch(this);
        }
    }

    /// <summary>The stage's name.</summary>
    public string Name => _runtime.Name;

    /// <summary>The number of shards: the keyed shards plus the unkeyed one (which is the last, numbered <c>Shards</c>).</summary>
    public int ShardCount => _shards.Length;

    /// <summary>
    /// Completes when the stage has completed and settled every item it accepted (scheduled retries
    /// included) and all its workers and timers have ended. It is cancelled instead if the stage was aborted.
    /// Every callback of an item (<see cref="StageOptions{T}.OnDropped"/>, <see cref="StageOptions{T}.OnDeadLetter"/>,
    /// <see cref="StageOptions{T}.OnHandlerError"/>, <see cref="Dedupe.DedupeOptions{T}.OnSuperseded"/>) has
    /// returned by then, and the counts are exact.
    /// </summary>
    public Task Completion => _completion.Task;

    /// <summary>
    /// Writes an item, waiting for room when its shard is full in <see cref="StageFullMode.Wait"/> mode.
    /// In the drop modes it never waits: an item dropped by <see cref="StageFullMode.DropWrite"/> is
    /// counted and reported to <see cref="StageOptions{T}.OnDropped"/>.
    /// </summary>
    /// <param name="item">The item.</param>
    /// <param name="cancellationToken">Stops waiting for room; the item is then not accepted.</param>
    /// <returns>
    /// A task that completes when the item has been accepted (or dropped by the full mode). A write
    /// that waits for room may return a task backed by a pooled object: await it (or read it) once, as
    /// with any <see cref="ValueTask"/>; call <see cref="ValueTask.AsTask"/> to keep it longer.
    /// </returns>
    /// <exception cref="ArgumentException">The key selector threw; the item was not accepted.</exception>
    /// <exception cref="StageCompletedException">The stage was completed or stopped; the item was not accepted.</exception>
    /// <exception cref="StageFullException">The shard is full and the mode is <see cref="StageFullMode.Reject"/>.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> fired before the item was accepted.</exception>
    public ValueTask WriteAsync(T item, CancellationToken cancellationToken = default) =>
        WriteCoreAsync(item, entryTimestamp: 0, EngineTracing.Capture(), cancellationToken);

    /// <summary>
    /// Writes an item if its shard has room now (or the full mode makes room), never waiting.
    /// </summary>
    /// <param name="item">The item.</param>
    /// <returns>
    /// True when the item is now in the stage. False when it is not: refused because the shard is full
    /// (<see cref="StageFullMode.Wait"/>, <see cref="StageFullMode.Reject"/>) or the stage was completed,
    /// or dropped by <see cref="StageFullMode.DropWrite"/> (counted and reported to <c>OnDropped</c>).
    /// </returns>
    /// <exception cref="ArgumentException">The key selector threw; the item was not accepted.</exception>
    public bool TryWrite(T item) =>
        TryWriteKeyed(item, SelectKey(item), entryTimestamp: 0, EngineTracing.Capture(), willWait: false, out _, out _) == WriteOutcome.Accepted;

    /// <summary>
    /// Stops accepting items. The stage goes on until everything accepted has settled, then
    /// <see cref="Completion"/> completes. Writes waiting for room fail with
    /// <see cref="StageCompletedException"/>. Calling it again does nothing.
    /// </summary>
    public void Complete()
    {
        foreach (Shard<T> shard in _shards)
        {
            shard.Complete();
        }
    }

    /// <summary>
    /// Completes the stage and lets it drain for up to <paramref name="drainTimeout"/>; whatever is
    /// still unsettled then is aborted (see <see cref="AbortAsync"/>). Idempotent.
    /// </summary>
    /// <param name="drainTimeout">How long to let the stage drain (measured on the stage's <see cref="TimeProvider"/>); <see cref="Timeout.InfiniteTimeSpan"/> waits for ever.</param>
    /// <param name="cancellationToken">Ends the drain early: the stage aborts at once.</param>
    /// <returns>The stage's counts once every item has settled, its callbacks have returned and every worker has ended.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="drainTimeout"/> is negative (other than infinite).</exception>
    public async ValueTask<StageCounts> StopAsync(TimeSpan drainTimeout, CancellationToken cancellationToken = default)
    {
        Complete();
        await Drain.WaitAsync(Completion, drainTimeout, _runtime.TimeProvider, $"Stage '{Name}'", cancellationToken).ConfigureAwait(false);
        return Completion.IsCompleted ? GetCounts() : await AbortAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// Aborts: stops accepting items, cancels the token handed to running handlers, abandons every item
    /// that is waiting (in a channel, parked, or waiting for a retry) and waits for running handlers to
    /// return. A handler cancelled by the abort counts its item as abandoned. Idempotent.
    /// </summary>
    /// <returns>
    /// The stage's counts once every item has settled and its callbacks have returned;
    /// <see cref="StageCounts.Abandoned"/> says how many the abort left unprocessed.
    /// </returns>
    public async ValueTask<StageCounts> AbortAsync()
    {
        if (_runtime.TryAbort())
        {
            Complete();
            foreach (Shard<T> shard in _shards)
            {
                shard.Abort();
            }
        }

        await Completion.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        return GetCounts();
    }

    /// <summary>The stage's counts, summed over its shards.</summary>
    /// <returns>The counts; exact once <see cref="Completion"/> has completed.</returns>
    public StageCounts GetCounts()
    {
        StageCounts total = default;
        foreach (Shard<T> shard in _shards)
        {
            total += shard.ReadCounts();
        }

        return total;
    }

    /// <summary>
    /// Closes the current metrics interval and returns its figures, per shard and summed: counts
    /// (cumulative and within the interval), depth and its peak, busy time and utilisation, work
    /// duration and queue wait distributions, unfinished work, and in a pipeline's sinks end-to-end
    /// latency. It copies counters and histogram buckets; recording never waits for it. The interval
    /// is this method's own (the first starts when the stage started): reporters keep intervals of
    /// their own, so calling this does not take figures away from them.
    /// </summary>
    /// <returns>The snapshot. With metrics off it holds the counts only.</returns>
    public StageMetricsSnapshot TakeMetricsSnapshot()
    {
        long ignored = 0;
        return TakeMetricsSnapshot(_ownCursor, null, ref ignored);
    }

    /// <summary>A cursor for another consumer of snapshots; its first interval starts when the stage started. Close it when done.</summary>
    internal MetricsCursor OpenMetricsCursor() => _figures.OpenCursor();

    /// <summary>Stops tracking a consumer's cursor.</summary>
    internal void CloseMetricsCursor(MetricsCursor cursor) => _figures.CloseCursor(cursor);

    /// <summary>As <see cref="TakeMetricsSnapshot()"/> for <paramref name="consumer"/> (null: this stage's own cursor).</summary>
    internal StageMetricsSnapshot TakeMetricsSnapshot(MetricsCursors? consumer, long[]? endToEndTotal, ref long endToEndTotalSum) =>
        TakeMetricsSnapshot(consumer?.For(this, OpenMetricsCursor, CloseMetricsCursor) ?? _ownCursor, endToEndTotal, ref endToEndTotalSum);

    /// <summary>
    /// As <see cref="TakeMetricsSnapshot()"/> for the consumer holding <paramref name="cursor"/>, also
    /// adding the interval's end-to-end buckets and sum into a pipeline's totals.
    /// </summary>
    internal StageMetricsSnapshot TakeMetricsSnapshot(MetricsCursor cursor, long[]? endToEndTotal, ref long endToEndTotalSum) =>
        _figures.TakeSnapshot(cursor, _readCounts, endToEndTotal, ref endToEndTotalSum);

    /// <summary>One shard's counts; <see cref="StageCounts.Waiting"/> is its depth.</summary>
    /// <param name="shard">The shard, from 0 to <see cref="ShardCount"/> − 1; the last is the unkeyed shard.</param>
    /// <returns>The shard's counts.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="shard"/> is out of range.</exception>
    public StageCounts GetShardCounts(int shard)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(shard);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(shard, _shards.Length);
        return _shards[shard].ReadCounts();
    }

    /// <summary>The shard an item with <paramref name="key"/> goes to.</summary>
    /// <param name="key">The key.</param>
    /// <returns>The shard's index; <see cref="ShardCount"/> − 1 (the unkeyed shard) for <see cref="ItemKey.None"/>.</returns>
    public int ShardOf(ItemKey key) => key.IsNone ? _keyedShards : _router.ShardOf(key.Hash);

    /// <summary>
    /// Stops the stage as <see cref="StopAsync"/> does, with <see cref="StageOptions{T}.DisposeDrainTimeout"/>.
    /// Complete the stage and await <see cref="Completion"/> first to be sure nothing is abandoned.
    /// </summary>
    /// <returns>A task that completes when the stage has stopped (every callback of an item has returned by then).</returns>
    public async ValueTask DisposeAsync()
    {
        await StopAsync(_disposeDrainTimeout).ConfigureAwait(false);
        _runtime.RateLimit?.Dispose();

        // Until disposed, a finished stage's figures stay observable on the meter, and its final
        // figures are collected once more after (see EngineMeter.Unregister). The abort token's source
        // is deliberately never disposed: it has no timer and no links, so disposing it frees nothing,
        // and a disposed source would make a later AbortAsync throw.
        _meter.Unregister(this);
    }

    string? IStageMeterSource.PipelineName => _runtime.PipelineName;

    void IStageMetricsSource.OpenMetricsCursor(MetricsCursors consumer) => consumer.For(this, OpenMetricsCursor, CloseMetricsCursor);

    StageMetricsSnapshot IStageMetricsSource.TakeMetricsSnapshot(MetricsCursors consumer)
    {
        long ignored = 0;
        return TakeMetricsSnapshot(consumer, null, ref ignored);
    }

    double IStageMeterSource.ShardBusySeconds(int shard) => _figures.BusySeconds(shard);

    bool IStageMeterSource.ShardUsed(int shard) =>
        _shards[shard].Accepted != 0 || Volatile.Read(ref _shards[shard].Counters.Refused) != 0;

    /// <summary>Every shard's internal state, one line each, for diagnostics.</summary>
    internal string Describe() => string.Join(Environment.NewLine, _shards.Select(s => s.ToString()));

    /// <summary>Whether writes are stamped (with an accept timestamp, and an entry one when none is given).</summary>
    internal bool StampsWrites => _runtime.StampsWrites;

    /// <summary>
    /// Writes with a given pipeline entry timestamp (kept across stages for end-to-end latency) and
    /// the trace context the writer captured (<see cref="EngineTracing.Capture"/>, or a batch's links).
    /// </summary>
    internal ValueTask WriteAsync(T item, long entryTimestamp, object? trace, CancellationToken cancellationToken) =>
        WriteCoreAsync(item, entryTimestamp, trace, cancellationToken);

    /// <summary>
    /// The write path; an entry timestamp of 0 means "entering now" (one clock read serves both stamps,
    /// and none is made when nothing reads them: see <see cref="ShardSettings{T}.StampsWrites"/>).
    /// <paramref name="trace"/> is what the item carries of the context it was written in (null when
    /// nothing listened to the activity source).
    /// </summary>
    private ValueTask WriteCoreAsync(T item, long entryTimestamp, object? trace, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        return WriteKeyedAsync(item, SelectKey(item), entryTimestamp, trace, cancellationToken);
    }

    /// <summary>The write path once the item's key is known (see <see cref="WriteCoreAsync"/>).</summary>
    private ValueTask WriteKeyedAsync(T item, ItemKey key, long entryTimestamp, object? trace, CancellationToken cancellationToken)
    {
        if (_runtime.Debounce is not null && !key.IsNone)
        {
            return WriteDebouncedAsync(item, key, entryTimestamp, trace, cancellationToken);
        }

        bool willWait = _runtime.FullMode == StageFullMode.Wait;
        switch (TryWriteKeyed(item, key, entryTimestamp, trace, willWait, out Shard<T> shard, out Envelope<T> waitWith))
        {
            case WriteOutcome.Accepted:
            case WriteOutcome.Dropped:
                return default;
            case WriteOutcome.Closed:
                return ValueTask.FromException(CompletedError());
            default:
                return willWait
                    ? WriteWaitingAsync(waitWith, shard, cancellationToken)
                    : ValueTask.FromException(new StageFullException($"Stage '{Name}': shard {shard.Index} is full ({_runtime.Capacity} items) and the full mode is Reject; the item was not accepted."));
        }
    }

    /// <summary>
    /// One attempt to write into the key's shard, never waiting: stamps the item (an entry timestamp
    /// of 0 means "entering now") and writes it plainly or through the dedupe index.
    /// </summary>
    /// <param name="item">The item.</param>
    /// <param name="key">Its key (already selected).</param>
    /// <param name="entryTimestamp">Its pipeline entry timestamp, or 0 when it enters now.</param>
    /// <param name="trace">What it carries of the writer's trace context.</param>
    /// <param name="willWait">The caller waits for room on <see cref="WriteOutcome.Full"/>, so a full shard is not yet a refusal.</param>
    /// <param name="shard">The key's shard.</param>
    /// <param name="waitWith">On <see cref="WriteOutcome.Full"/>: the envelope to wait with.</param>
    private WriteOutcome TryWriteKeyed(T item, ItemKey key, long entryTimestamp, object? trace, bool willWait, out Shard<T> shard, out Envelope<T> waitWith)
    {
        shard = _shards[ShardOf(key)];
        long now = _runtime.StampsWrites ? shard.StampFor(entryTimestamp) : 0;
        if (entryTimestamp == 0)
        {
            entryTimestamp = now;
        }

        if (_runtime.Dedupe is not null && !key.IsNone)
        {
            if (_runtime.Debounce is not null)
            {
                // Only TryWrite gets here (writes that may wait go through WriteDebouncedAsync).
                waitWith = default;
                return TryWriteTimed(item, key, DebounceDue(), debounce: true, entryTimestamp, trace, willWait: false, out shard, out _, out _);
            }

            DedupeWrite<T> write = DescribeForDedupe(item, key, shard, trace);
            return shard.TryWriteDeduped(in write, entryTimestamp, now, willWait, out waitWith);
        }

        waitWith = new Envelope<T>(item, key, entryTimestamp, now) { Trace = trace };
        return shard.TryWrite(in waitWith, willWait);
    }

    // Pooled, like the shard's and the channel write's steps under it: without it a write that waits
    // for room allocates the async state of all three (640 bytes for an int item) every time it waits.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask WriteWaitingAsync(Envelope<T> envelope, Shard<T> shard, CancellationToken cancellationToken)
    {
        try
        {
            ValueTask write = shard.WriteWaitingAsync(envelope, cancellationToken);

            // On a watching clock, a handler run that forwards into this full stage waits for room, not
            // for something else: the harness then asks this stage whether anything can free it.
            if (_watch is not null && WatchedRun.Current is { } run && !write.IsCompleted)
            {
                Task waiting = write.AsTask();
                run.WaitForRoom(waiting);
                await waiting.ConfigureAwait(false);
            }
            else
            {
                await write.ConfigureAwait(false);
            }
        }
        catch (ChannelClosedException)
        {
            throw CompletedError();
        }
    }

    private StageCompletedException CompletedError() =>
        new($"Stage '{Name}' is completed or stopped and accepts no more items; the item was not accepted.");

    private ItemKey SelectKey(T item)
    {
        if (_keySelector is null)
        {
            return default;
        }

        try
        {
            return _keySelector(item);
        }
        catch (Exception ex)
        {
            _shards[_keyedShards].CountRefused();
            throw new ArgumentException($"Stage '{Name}': the KeySelector threw for the item being written; the item was not accepted.", nameof(item), ex);
        }
    }

    /// <summary>Runs the user's dedupe functions for an item, before any lock is taken.</summary>
    private DedupeWrite<T> DescribeForDedupe(T item, ItemKey routingKey, Shard<T> shard, object? trace)
    {
        DedupePolicy<T> dedupe = _runtime.Dedupe!;
        string option = "Dedupe.KeySelector";
        try
        {
            ItemKey dedupeKey = dedupe.KeySelector is { } selector ? selector(item) : routingKey;
            option = "Dedupe.ContentHash";
            ulong hash = dedupe.ContentHash is { } contentHash ? contentHash(item) : 0;
            option = "Dedupe.IsTombstone";
            bool tombstone = dedupe.IsTombstone?.Invoke(item) ?? false;
            return new DedupeWrite<T>(item, routingKey, dedupeKey, hash, dedupe.ContentHash is not null, tombstone) { Trace = trace };
        }
        catch (Exception ex)
        {
            shard.CountRefused();
            throw new ArgumentException($"Stage '{Name}': the {option} function threw for the item being written; the item was not accepted.", nameof(item), ex);
        }
    }

    private void OnShardFinished(Shard<T> shard)
    {
        if (shard.Defect is { } defect)
        {
            // Nothing the stage reports can be trusted any more: end it now rather than never.
            _completion.TrySetException(defect);
        }

        if (Interlocked.Decrement(ref _unfinishedShards) != 0)
        {
            return;
        }

        if (_runtime.IsAborted)
        {
            _completion.TrySetCanceled();
        }
        else
        {
            _completion.TrySetResult();
        }
    }
}
