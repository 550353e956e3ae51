using Engine.Dedupe;
using Engine.Internal;
using Engine.Routing;
using Engine.Shards;
using Engine.Timing;
using Engine.Tracing;

namespace Engine.Stages;

/// <summary>Items that wait for their time: delayed writes and debounced writes (see <c>Shard.Timed.cs</c>).</summary>
public sealed partial class Stage<T>
{
    /// <summary>
    /// Writes an item that becomes runnable after <paramref name="delay"/> on the stage's clock. It is
    /// accepted now (counted in <see cref="StageCounts.Accepted"/> and <see cref="StageCounts.Delayed"/>,
    /// outstanding until it has run, so <see cref="Completion"/> waits for it). By default it keeps its
    /// place in its key's order (<see cref="DelayOptions.LaterItemsOvertake"/>). In a dedupe stage a
    /// waiting item of the same dedupe key is replaced in place instead (the waiting one keeps its time).
    /// </summary>
    /// <remarks>
    /// Each shard holds at most <see cref="StageOptions{T}.Capacity"/> delayed items; past that a write
    /// waits for one to come due (<see cref="StageFullMode.Wait"/>, and the evicting modes, which have
    /// nothing to evict here), is refused (<see cref="StageFullMode.Reject"/>) or dropped
    /// (<see cref="StageFullMode.DropWrite"/>). A delayed item's queue wait counts from its due time.
    /// </remarks>
    /// <param name="item">The item.</param>
    /// <param name="delay">How long it waits: from zero to <see cref="DelayOptions.MaxDelay"/>.</param>
    /// <param name="cancellationToken">Stops waiting for room; the item is then not accepted.</param>
    /// <returns>A task that completes when the item has been accepted (not when it runs).</returns>
    /// <exception cref="InvalidOperationException">The stage has no <see cref="StageOptions{T}.Delays"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="delay"/> is negative or above <see cref="DelayOptions.MaxDelay"/>; the item was not accepted (counted refused).</exception>
    /// <exception cref="ArgumentException">The key selector or a dedupe function threw; the item was not accepted.</exception>
    /// <exception cref="StageCompletedException">The stage was completed or stopped; the item was not accepted.</exception>
    /// <exception cref="StageFullException">The shard holds its most delayed items and the full mode is <see cref="StageFullMode.Reject"/>.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> fired before the item was accepted.</exception>
    public ValueTask WriteAsync(T item, TimeSpan delay, CancellationToken cancellationToken = default)
    {
        DelayOptions delays = RequireDelays();
        ItemKey key = SelectKey(item);
        if (delay < TimeSpan.Zero || delay > delays.MaxDelay)
        {
            _shards[ShardOf(key)].CountRefused();
            throw new ArgumentOutOfRangeException(nameof(delay), delay, $"Stage '{Name}': a delay must be from zero to options.Delays.MaxDelay ({delays.MaxDelay}); the item was not accepted.");
        }

        long due = _runtime.TimeProvider.GetTimestamp() + ClockTicks.From(_runtime.TimeProvider, delay);
        return WriteTimedAsync(item, key, due, debounce: false, EngineTracing.Capture(), cancellationToken);
    }

    /// <summary>
    /// Writes an item that becomes runnable at <paramref name="dueTime"/> on the stage's clock (a time
    /// already past: as soon as its key allows). Otherwise as <see cref="WriteAsync(T, TimeSpan, CancellationToken)"/>.
    /// </summary>
    /// <param name="item">The item.</param>
    /// <param name="dueTime">When it may run; at most <see cref="DelayOptions.MaxDelay"/> from now.</param>
    /// <param name="cancellationToken">Stops waiting for room; the item is then not accepted.</param>
    /// <returns>A task that completes when the item has been accepted (not when it runs).</returns>
    /// <exception cref="InvalidOperationException">The stage has no <see cref="StageOptions{T}.Delays"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="dueTime"/> is more than <see cref="DelayOptions.MaxDelay"/> from now; the item was not accepted (counted refused).</exception>
    /// <exception cref="ArgumentException">The key selector or a dedupe function threw; the item was not accepted.</exception>
    /// <exception cref="StageCompletedException">The stage was completed or stopped; the item was not accepted.</exception>
    /// <exception cref="StageFullException">The shard holds its most delayed items and the full mode is <see cref="StageFullMode.Reject"/>.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> fired before the item was accepted.</exception>
    public ValueTask WriteAsync(T item, DateTimeOffset dueTime, CancellationToken cancellationToken = default)
    {
        DelayOptions delays = RequireDelays();
        ItemKey key = SelectKey(item);
        TimeSpan delay = dueTime - _runtime.TimeProvider.GetUtcNow();
        if (delay > delays.MaxDelay)
        {
            _shards[ShardOf(key)].CountRefused();
            throw new ArgumentOutOfRangeException(nameof(dueTime), dueTime, $"Stage '{Name}': a due time may be at most options.Delays.MaxDelay ({delays.MaxDelay}) from now; the item was not accepted.");
        }

        long due = _runtime.TimeProvider.GetTimestamp() + ClockTicks.From(_runtime.TimeProvider, delay < TimeSpan.Zero ? TimeSpan.Zero : delay);
        return WriteTimedAsync(item, key, due, debounce: false, EngineTracing.Capture(), cancellationToken);
    }

    private DelayOptions RequireDelays() => _runtime.Delays ?? throw new InvalidOperationException(
        $"Stage '{Name}': delayed writes need options.Delays (a DelayOptions); the item was not accepted.");

    /// <summary>A debounced write (every keyed write of a debounce stage): due when its dedupe key has been quiet for the quiet period.</summary>
    private ValueTask WriteDebouncedAsync(T item, ItemKey key, long entryTimestamp, object? trace, CancellationToken cancellationToken) =>
        WriteTimedAsync(item, key, DebounceDue(), debounce: true, trace, cancellationToken, entryTimestamp);

    private long DebounceDue() => _runtime.TimeProvider.GetTimestamp() + ClockTicks.From(_runtime.TimeProvider, _runtime.Debounce!.QuietPeriod);

    /// <summary>A delayed or debounced write: one attempt, then waiting for room as the full mode says.</summary>
    private ValueTask WriteTimedAsync(T item, ItemKey key, long due, bool debounce, object? trace, CancellationToken cancellationToken, long entryTimestamp = 0)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        bool willWait = _runtime.FullMode is not (StageFullMode.Reject or StageFullMode.DropWrite);
        WriteOutcome outcome = TryWriteTimed(item, key, due, debounce, entryTimestamp, trace, willWait, out Shard<T> shard, out Task? room, out Envelope<T> waitWith);
        return outcome switch
        {
            WriteOutcome.Accepted or WriteOutcome.Dropped => default,
            WriteOutcome.Closed => ValueTask.FromException(CompletedError()),
            _ when !willWait => ValueTask.FromException(new StageFullException($"Stage '{Name}': shard {shard.Index} is full ({_runtime.Capacity} items) and the full mode is Reject; the item was not accepted.")),
            _ when room is null => WaitToWriteDelayedAsync(waitWith, shard, cancellationToken),
            _ => WaitToHoldAsync(item, key, due, debounce, entryTimestamp, trace, room, cancellationToken),
        };
    }

    /// <summary>A delayed write through the channel that waits for room as any write does.</summary>
    private async ValueTask WaitToWriteDelayedAsync(Envelope<T> envelope, Shard<T> shard, CancellationToken cancellationToken)
    {
        await WriteWaitingAsync(envelope, shard, cancellationToken).ConfigureAwait(false);
        shard.CountDelayed();
    }

    /// <summary>A delayed write held off the channel that waits for one of its shard's delayed items to come due.</summary>
    private async ValueTask WaitToHoldAsync(T item, ItemKey key, long due, bool debounce, long entryTimestamp, object? trace, Task room, CancellationToken cancellationToken)
    {
        while (true)
        {
            await room.WaitAsync(cancellationToken).ConfigureAwait(false);
            switch (TryWriteTimed(item, key, due, debounce, entryTimestamp, trace, willWait: true, out _, out Task? next, out _))
            {
                case WriteOutcome.Accepted:
                case WriteOutcome.Dropped:
                    return;
                case WriteOutcome.Closed:
                    throw CompletedError();
                default:
                    room = next!;
                    break;
            }
        }
    }

    /// <summary>One attempt of a delayed or debounced write into the key's shard (see <see cref="Shard{T}.TryWriteTimed"/>).</summary>
    private WriteOutcome TryWriteTimed(T item, ItemKey key, long due, bool debounce, long entryTimestamp, object? trace, bool willWait, out Shard<T> shard, out Task? room, out Envelope<T> waitWith)
    {
        shard = _shards[ShardOf(key)];
        long now = _runtime.StampsWrites ? shard.AcceptStamp() : 0;
        if (entryTimestamp == 0)
        {
            entryTimestamp = now;
        }

        // A delayed item's queue wait counts from when it is due, not from its write.
        long runnable = now == 0 ? 0 : Math.Max(now, due);
        if (_runtime.Dedupe is not null && !key.IsNone)
        {
            DedupeWrite<T> write = DescribeForDedupe(item, key, shard, trace);
            return shard.TryWriteTimed(new Envelope<T>(default!, key, entryTimestamp, runnable), in write, deduped: true, due, debounce, willWait, out room, out waitWith);
        }

        return shard.TryWriteTimed(new Envelope<T>(item, key, entryTimestamp, runnable) { Trace = trace }, default, deduped: false, due, debounce, willWait, out room, out waitWith);
    }
}
