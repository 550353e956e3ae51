using System.Threading.Channels;

namespace Engine.Testing;

/// <summary>
/// A source that feeds items into a pipeline or stage built on the harness's clock, one at a time,
/// in order, with the backpressure a plain write has. <see cref="Send(T[])"/> queues items and returns
/// at once; the harness counts queued items as work, so <see cref="EngineHarness.RunUntilIdleAsync"/>
/// returns only once every item was written (or its write waits for room in a full stage, for the
/// clock). A write that throws stops the source, and the harness's next wait (only that one) throws
/// <see cref="EngineHarnessException"/> with it. Get one from <see cref="EngineHarness.Source{T}(Pipelines.Pipeline{T})"/>.
/// </summary>
/// <typeparam name="T">The item type.</typeparam>
public sealed class SourceProbe<T> : IHarnessSource
{
    private readonly Func<T, CancellationToken, ValueTask> _write;
    // Not single-reader: that unbounded channel cannot count, and the harness reads the count.
    private readonly Channel<T> _queue = Channel.CreateUnbounded<T>();
    private readonly Task _pump;
    private long _sent;
    private long _written;

    /// <summary>1 while the pump holds an item it has not yet written.</summary>
    private int _inHand;

    /// <summary>
    /// The write of the item in hand while it waits (it returned without completing: waiting for room).
    /// Read as a task, not a flag the pump clears: it completes the moment the item gets in, before the
    /// pump goes on, so a pump about to write its next item never reads as waiting.
    /// </summary>
    private Task? _waiting;
    private Exception? _fault;

    internal SourceProbe(string name, Func<T, CancellationToken, ValueTask> write)
    {
        Name = name;
        _write = write;
        _pump = PumpAsync();
    }

    /// <summary>What the source writes into (for messages).</summary>
    public string Name { get; }

    /// <summary>Items queued so far.</summary>
    public long Sent => Volatile.Read(ref _sent);

    /// <summary>Items written (accepted by the pipeline or stage) so far.</summary>
    public long Written => Volatile.Read(ref _written);

    /// <summary>What a write threw, if one did; the source stopped then.</summary>
    public Exception? Fault => Volatile.Read(ref _fault);

    string? IHarnessSource.Busy
    {
        get
        {
            // Read "in hand" last: the pump sets it before it takes an item off the queue.
            int queued = _queue.Reader.Count;
            bool inHand = Volatile.Read(ref _inHand) != 0;
            bool waiting = Volatile.Read(ref _waiting) is { IsCompleted: false };
            if (Fault is not null || (inHand && waiting))
            {
                return null;
            }

            return inHand || queued > 0 ? $"source into '{Name}': {queued + (inHand ? 1 : 0)} item(s) not yet written" : null;
        }
    }

    string? IHarnessSource.Waiting =>
        Volatile.Read(ref _inHand) != 0 && Volatile.Read(ref _waiting) is { IsCompleted: false } && Fault is null
            ? $"source into '{Name}': a write waits for room ({_queue.Reader.Count} more queued)"
            : null;

    /// <summary>Queues items to write, in order; returns at once.</summary>
    /// <param name="items">The items.</param>
    /// <exception cref="InvalidOperationException">The source was completed.</exception>
    public void Send(params T[] items) => Send((IEnumerable<T>)items);

    /// <summary>Queues items to write, in order; returns at once.</summary>
    /// <param name="items">The items.</param>
    /// <exception cref="InvalidOperationException">The source was completed.</exception>
    public void Send(IEnumerable<T> items)
    {
        ArgumentNullException.ThrowIfNull(items);
        foreach (T item in items)
        {
            // Counted before it is queued, so the harness never sees it nowhere.
            Interlocked.Increment(ref _sent);
            if (!_queue.Writer.TryWrite(item))
            {
                Interlocked.Decrement(ref _sent);
                throw new InvalidOperationException($"Source into '{Name}' was completed; it takes no more items.");
            }
        }
    }

    /// <summary>Takes no more items; those queued are still written.</summary>
    public void Complete() => _queue.Writer.TryComplete();

    /// <summary>Completes when every queued item was written after <see cref="Complete"/>, or a write failed (then it faults with that error).</summary>
    public Task Completion => _pump;

    private async Task PumpAsync()
    {
        await Task.Yield();
        while (await _queue.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            // In hand before it leaves the queue: the item is always counted in one place or the other.
            Volatile.Write(ref _inHand, 1);
            if (!_queue.Reader.TryRead(out T? item))
            {
                Volatile.Write(ref _inHand, 0);
                continue;
            }

            try
            {
                ValueTask write = _write(item, CancellationToken.None);
                if (write.IsCompleted)
                {
                    await write.ConfigureAwait(false);
                }
                else
                {
                    Task waiting = write.AsTask();
                    Volatile.Write(ref _waiting, waiting);
                    await waiting.ConfigureAwait(false);
                }

                Interlocked.Increment(ref _written);
            }
            catch (Exception ex)
            {
                Volatile.Write(ref _fault, ex);
                throw;
            }
            finally
            {
                Volatile.Write(ref _waiting, null);
                Volatile.Write(ref _inHand, 0);
            }
        }
    }
}
