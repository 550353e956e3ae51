using System.Threading.Channels;
using Engine.Inspection;
using Engine.Internal;
using Engine.Metrics;
using Engine.Shards;
using Engine.Stages;
using Engine.Tracing;

namespace Engine.Pipelines.Nodes;

/// <summary>
/// Groups items into batches of up to <c>size</c>, flushing a partial batch once its first item has
/// waited <c>window</c> (on the pipeline's clock) and when the node completes. A bounded channel in
/// front gives backpressure; one loop fills and forwards batches in order. A batch carries the entry
/// timestamp of its oldest item, so end-to-end latency measures the item that waited longest.
/// With the pipeline's metrics on, the node is timed as one shard with one worker: an item's queue
/// wait runs from its write into the node to the start of its batch's emission, a run is one batch's
/// emission (handing it downstream, a wait for room there included), and each batch's size is recorded.
/// </summary>
#pragma warning disable CA1001 // The abort source lives as long as the pipeline and has no timer: nothing leaks if it is not disposed.
internal sealed class BatchNode<T> : Node, ITarget<T>, IWatchedPart
#pragma warning restore CA1001
{
    /// <inheritdoc/>
    public bool StampsEntry => false;

    private readonly int _size;
    private readonly TimeSpan? _window;
    private readonly Channel<(T Item, long Entry, object? Trace, long Written)> _channel;
    private readonly CancellationTokenSource _abort = new();
    private readonly ChannelWrite _waitingWrites = new();
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _accepted;
    private long _processed;
    private long _abandoned;
    private long _refused;

    /// <summary>Writes in progress (see <see cref="WriteAsync"/>).</summary>
    private int _writing;
    private int _buffered;

    /// <summary>The node's timings (see <see cref="NodeMetrics.Shard"/>); null with the pipeline's metrics off. Set by <see cref="Start"/>.</summary>
    private ShardMetrics? _timing;

    /// <summary>The one worker slot of <see cref="_timing"/>, held by the loop.</summary>
    private ShardWorker? _worker;

    /// <summary>When each item of the batch being filled was written (clock ticks), by its index; reused, only the loop touches it.</summary>
    private long[] _writtenAt = [];

    /// <summary>
    /// What the loop awaits while it waits for items or for the window (null while it works), so a
    /// watching clock's harness (see <see cref="IWatchingClock"/>) can tell a batch stage that waits
    /// from one that is about to flush: the task completes before the loop moves on.
    /// </summary>
    private Task? _parkedOn;

    /// <summary>When the current window closes (<see cref="DateTimeOffset.UtcTicks"/> on the pipeline's clock) while the loop waits for it; 0 otherwise.</summary>
    private long _windowClosesAt;

    public BatchNode(string name, PipelineRuntime runtime, int size, TimeSpan? window, int capacity)
        : base(name, runtime)
    {
        _size = size;
        _window = window;
        _channel = Channel.CreateBounded<(T, long, object?, long)>(new BoundedChannelOptions(capacity) { SingleReader = true });
        Outlet = new Outlet<IReadOnlyList<T>>(this);
        (runtime.TimeProvider as IWatchingClock)?.Watch(this);
    }

    public Outlet<IReadOnlyList<T>> Outlet { get; }

    public override bool IsSink => false;

    public override Task Completion => _completion.Task;

    Node ITarget<T>.Node => this;

    public override void Start()
    {
        var metrics = new NodeMetrics(this, batcher: true);
        OwnMetrics = metrics;
        if (metrics.Shard is { } timing)
        {
            _timing = timing;
            _worker = timing.ClaimWorker();
            _writtenAt = new long[_size];
        }

        _ = RunAsync();
    }

    public async ValueTask WriteAsync(T item, long entryTimestamp, object? trace, CancellationToken cancellationToken)
    {
        // Counted as in progress until its item is counted accepted (or refused): the node does not
        // complete while a write is open (see WaitForWrites), so the counts are exact when it does.
        Interlocked.Increment(ref _writing);
        try
        {
            // Read before the write, as the item has to carry it: a write that waits for room counts its wait too.
            ShardMetrics? timing = _timing;
            long written = timing is null ? 0 : Runtime.TimeProvider.GetTimestamp();
            if (!await _waitingWrites.WriteAsync(_channel.Writer, (item, entryTimestamp, trace, written), cancellationToken).ConfigureAwait(false))
            {
                Interlocked.Increment(ref _refused);
                throw new StageCompletedException($"Batch stage '{Name}' is completed or stopped and accepts no more items; the item was not accepted.");
            }

            long accepted = Interlocked.Increment(ref _accepted);

            // Held: accepted and neither handed on nor abandoned (waiting, in the batch, or being emitted).
            timing?.ObserveHeld(accepted - Volatile.Read(ref _processed) - Volatile.Read(ref _abandoned));
        }
        finally
        {
            Interlocked.Decrement(ref _writing);
        }
    }

    public override void Complete() => _channel.Writer.TryComplete();

    public override async ValueTask AbortAsync()
    {
        if (!_abort.IsCancellationRequested)
        {
            _channel.Writer.TryComplete();
            await _abort.CancelAsync().ConfigureAwait(false);
        }

        await Completion.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    public override StageCounts GetCounts()
    {
        long accepted = Volatile.Read(ref _accepted);
        long processed = Volatile.Read(ref _processed);
        long abandoned = Volatile.Read(ref _abandoned);
        return new StageCounts
        {
            Accepted = accepted,
            Processed = processed,
            Abandoned = abandoned,
            Refused = Volatile.Read(ref _refused),
            Waiting = _channel.Reader.Count + Volatile.Read(ref _buffered),
            Pending = Math.Max(0, accepted - processed - abandoned),
        };
    }

    private async Task RunAsync()
    {
        TimeProvider time = Runtime.TimeProvider;
        CancellationToken abort = _abort.Token;
        var batch = new List<T>(_size);

        // The trace contexts of the batch's items, made only when one carries any (something listened).
        List<object?>? traces = null;
        long oldestEntry = 0;
        long firstAt = 0;
        Task<bool>? waiting = null;
        try
        {
            while (true)
            {
                while (batch.Count < _size && _channel.Reader.TryRead(out (T Item, long Entry, object? Trace, long Written) next))
                {
                    if (next.Trace is not null)
                    {
                        (traces ??= []).Add(next.Trace);
                    }

                    if (batch.Count == 0)
                    {
                        oldestEntry = next.Entry;
                        firstAt = time.GetTimestamp();
                    }
                    else
                    {
                        oldestEntry = Math.Min(oldestEntry, next.Entry);
                    }

                    if (_timing is not null)
                    {
                        _writtenAt[batch.Count] = next.Written;
                    }

                    batch.Add(next.Item);
                    Volatile.Write(ref _buffered, batch.Count);
                }

                if (batch.Count == _size)
                {
                    batch = await FlushAsync(batch, oldestEntry, TakeTrace(ref traces), abort).ConfigureAwait(false);
                    continue;
                }

                waiting ??= _channel.Reader.WaitToReadAsync(abort).AsTask();
                if (batch.Count > 0 && _window is { } window)
                {
                    TimeSpan left = window - time.GetElapsedTime(firstAt);
                    if (left > TimeSpan.Zero && !waiting.IsCompleted)
                    {
                        using var stopDelay = CancellationTokenSource.CreateLinkedTokenSource(abort);
                        Task delay = Task.Delay(left, time, stopDelay.Token);
                        Task first = Task.WhenAny(waiting, delay);
                        Volatile.Write(ref _windowClosesAt, (time.GetUtcNow() + left).UtcTicks);
                        Volatile.Write(ref _parkedOn, first);
                        await first.ConfigureAwait(false);
                        Volatile.Write(ref _parkedOn, null);
                        Volatile.Write(ref _windowClosesAt, 0);
                        await stopDelay.CancelAsync().ConfigureAwait(false);
                        abort.ThrowIfCancellationRequested();
                    }

                    if (!waiting.IsCompleted)
                    {
                        // The window closed first: flush what there is; the read wait carries on.
                        batch = await FlushAsync(batch, oldestEntry, TakeTrace(ref traces), abort).ConfigureAwait(false);
                        continue;
                    }
                }

                Volatile.Write(ref _parkedOn, waiting);
                bool more = await waiting.ConfigureAwait(false);
                Volatile.Write(ref _parkedOn, null);
                waiting = null;
                if (!more)
                {
                    break;
                }
            }

            if (batch.Count > 0)
            {
                await FlushAsync(batch, oldestEntry, TakeTrace(ref traces), abort).ConfigureAwait(false);
            }

            WaitForWrites();
            _completion.TrySetResult();
        }
        catch (Exception) when (abort.IsCancellationRequested || Runtime.IsAborted)
        {
            // Aborted, or a downstream stopped because the pipeline is aborting: abandon, not fault.
            Interlocked.Add(ref _abandoned, batch.Count);
            while (_channel.Reader.TryRead(out _))
            {
                Interlocked.Increment(ref _abandoned);
            }

            Volatile.Write(ref _buffered, 0);
            WaitForWrites();
            _completion.TrySetCanceled(abort);
        }
        catch (Exception ex)
        {
            // A downstream write failed for a reason other than an abort: the batch cannot be delivered.
            Interlocked.Add(ref _abandoned, batch.Count);
            Volatile.Write(ref _buffered, 0);
            Runtime.Fault(this, ex);
            _completion.TrySetException(ex);
        }
    }

    string? IWatchedPart.Pipeline => Runtime.Name;

    /// <summary>Busy while items wait in its channel or the loop works; otherwise it waits for items, or for its window on the clock.</summary>
    void IWatchedPart.Inspect(List<PartState> into)
    {
        if (Completion.IsCompleted)
        {
            return;
        }

        int queued = _channel.Reader.Count;
        int buffered = Volatile.Read(ref _buffered);
        bool waits = Volatile.Read(ref _parkedOn) is { IsCompleted: false };
        long closes = Volatile.Read(ref _windowClosesAt);
        if (queued > 0 || !waits)
        {
            into.Add(new PartState(Runtime.Name, Name, null, null, $"filling or forwarding a batch ({buffered} buffered, {queued} queued)", true));
        }
        else if (buffered > 0)
        {
            into.Add(new PartState(Runtime.Name, Name, null, null, closes != 0
                ? $"{buffered} item(s) buffered, waiting for more or for the window to close at {new DateTimeOffset(closes, TimeSpan.Zero):HH:mm:ss.fff}"
                : $"{buffered} item(s) buffered, waiting for more to make a batch of {_size}", false));
        }
    }

    /// <summary>
    /// Waits until no write is in progress. Called once the channel is completed and drained: every
    /// open write then ends at once (refused, or already in and just counting its item), so this is
    /// a spin of a few instructions, and the counts are exact when <see cref="Completion"/> completes.
    /// </summary>
    private void WaitForWrites() => SpinWait.SpinUntil(() => Volatile.Read(ref _writing) == 0);

    /// <summary>What the batch being flushed carries: links to its items' contexts (see <see cref="EngineTracing.ForBatch"/>); the next batch starts with none.</summary>
    private static object? TakeTrace(ref List<object?>? traces)
    {
        object? trace = EngineTracing.ForBatch(traces);
        traces = null;
        return trace;
    }

    /// <summary>Forwards a full or timed-out batch and returns a fresh list for the next one (the old one now belongs downstream).</summary>
    private async ValueTask<List<T>> FlushAsync(List<T> batch, long oldestEntry, object? trace, CancellationToken abort)
    {
        EmittedCount.Increment();
        if (_timing is { } timing)
        {
            await TimedForwardAsync(timing, batch, oldestEntry, trace, abort).ConfigureAwait(false);
        }
        else
        {
            await Outlet.ForwardAsync(batch, oldestEntry, trace, abort).ConfigureAwait(false);
        }

        Interlocked.Add(ref _processed, batch.Count);
        Volatile.Write(ref _buffered, 0);
        return new List<T>(_size);
    }

    /// <summary>Forwards a batch as one timed run: every item's wait up to now, the batch's size, and the emission's duration.</summary>
    private async ValueTask TimedForwardAsync(ShardMetrics timing, List<T> batch, long oldestEntry, object? trace, CancellationToken abort)
    {
        TimeProvider time = Runtime.TimeProvider;
        long start = time.GetTimestamp();
        for (int i = 0; i < batch.Count; i++)
        {
            timing.RecordWait(start - _writtenAt[i], start);
        }

        timing.RecordBatchSize(batch.Count, start);
        timing.RunStarted(_worker!, start, waited: -1);
        try
        {
            await Outlet.ForwardAsync(batch, oldestEntry, trace, abort).ConfigureAwait(false);
        }
        finally
        {
            // Ended even when the forward throws, so an aborted emission does not count as running forever.
            timing.RunEnded(_worker!, start, time.GetTimestamp());
        }
    }
}
