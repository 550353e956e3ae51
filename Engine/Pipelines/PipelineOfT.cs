using System.Diagnostics;
using System.Threading.Channels;
using Engine.Internal;
using Engine.Metrics;
using Engine.Pipelines.Nodes;
using Engine.Stages;

namespace Engine.Pipelines;

/// <summary>
/// A running pipeline: write items in, complete it, and await <see cref="Completion"/>, which ends
/// when every stage has completed after all its upstreams and settled everything it accepted.
/// </summary>
/// <typeparam name="TIn">The input type.</typeparam>
[DebuggerDisplay("Pipeline {Name}: Completed = {Completion.IsCompleted}")]
public sealed class Pipeline<TIn> : IAsyncDisposable
{
    private static readonly TimeSpan DisposeDrainTimeout = TimeSpan.FromSeconds(30);
    private readonly PipelineRuntime _runtime;
    private readonly SourceNode<TIn> _source;

    internal Pipeline(PipelineRuntime runtime, SourceNode<TIn> source)
    {
        _runtime = runtime;
        _source = source;
    }

    /// <summary>The graph, for tests and diagnostics.</summary>
    internal PipelineRuntime Runtime => _runtime;

    /// <summary>The pipeline's name.</summary>
    public string Name => _runtime.Name;

    /// <summary>
    /// Completes when every stage has completed; faults with <see cref="PipelineFaultedException"/> after
    /// a fatal error, and is cancelled after an abort. As for a stage, every callback of every stage's
    /// items has returned by then.
    /// </summary>
    public Task Completion => _runtime.Completion;

    /// <summary>
    /// Writes an item into the head stage(s), stamping its entry time; waits while a head stage is full.
    /// </summary>
    /// <param name="item">The item.</param>
    /// <param name="cancellationToken">Stops waiting for room.</param>
    /// <returns>
    /// A task that completes when every head stage has accepted the item. Like
    /// <see cref="Stage{T}.WriteAsync(T, CancellationToken)"/>'s, one that waits for room may be
    /// backed by a pooled object, so await it once.
    /// </returns>
    /// <exception cref="StageCompletedException">The pipeline was completed or stopped.</exception>
    /// <exception cref="ArgumentException">A head stage's key selector threw for the item.</exception>
    public ValueTask WriteAsync(TIn item, CancellationToken cancellationToken = default)
    {
        if (_source.Completion.IsCompleted)
        {
            return ValueTask.FromException(new StageCompletedException($"Pipeline '{Name}' is completed or stopped and accepts no more items."));
        }

        return _source.WriteAsync(item, cancellationToken);
    }

    /// <summary>Writes every item of <paramref name="items"/>, in order, with backpressure. Does not complete the pipeline.</summary>
    /// <param name="items">The items.</param>
    /// <param name="cancellationToken">Stops feeding.</param>
    /// <returns>How many items were written.</returns>
    public async ValueTask<long> FeedAsync(IAsyncEnumerable<TIn> items, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(items);
        long written = 0;
        await foreach (TIn item in items.WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            await WriteAsync(item, cancellationToken).ConfigureAwait(false);
            written++;
        }

        return written;
    }

    /// <summary>Writes every item read from <paramref name="reader"/> until it completes, with backpressure. Does not complete the pipeline.</summary>
    /// <param name="reader">The channel to drain.</param>
    /// <param name="cancellationToken">Stops feeding.</param>
    /// <returns>How many items were written.</returns>
    public async ValueTask<long> FeedAsync(ChannelReader<TIn> reader, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reader);
        long written = 0;
        while (await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            while (reader.TryRead(out TIn? item))
            {
                await WriteAsync(item, cancellationToken).ConfigureAwait(false);
                written++;
            }
        }

        return written;
    }

    /// <summary>Stops accepting items; each stage completes once all its upstreams have and it has settled. Idempotent.</summary>
    public void Complete() => _source.Complete();

    /// <summary>Completes the pipeline and waits until every stage has drained.</summary>
    /// <returns>A task that completes with <see cref="Completion"/>.</returns>
    public Task CompleteAsync()
    {
        Complete();
        return Completion;
    }

    /// <summary>
    /// Aborts every stage: waiting items are abandoned, running handlers cancelled. Idempotent.
    /// </summary>
    /// <returns>Every stage's counts once all have stopped (<see cref="PipelineCounts.Abandoned"/> per stage).</returns>
    public async ValueTask<PipelineCounts> AbortAsync()
    {
        await _runtime.AbortAsync().ConfigureAwait(false);
        await Completion.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        return GetCounts();
    }

    /// <summary>Completes the pipeline and lets it drain for up to <paramref name="drainTimeout"/>, then aborts what is left.</summary>
    /// <param name="drainTimeout">How long to drain, on the pipeline's clock; <see cref="Timeout.InfiniteTimeSpan"/> waits for ever.</param>
    /// <param name="cancellationToken">Ends the drain early: the pipeline aborts.</param>
    /// <returns>Every stage's counts once all have stopped.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="drainTimeout"/> is negative (other than infinite).</exception>
    public async ValueTask<PipelineCounts> StopAsync(TimeSpan drainTimeout, CancellationToken cancellationToken = default)
    {
        Complete();
        await Drain.WaitAsync(Completion, drainTimeout, _runtime.TimeProvider, $"Pipeline '{Name}'", cancellationToken).ConfigureAwait(false);
        return Completion.IsCompleted ? GetCounts() : await AbortAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// Closes every stage's metrics interval and returns the figures, with the pipeline's end-to-end
    /// latency over all its sink stages (entry to settled at the last stage).
    /// </summary>
    /// <returns>The snapshot.</returns>
    public PipelineMetricsSnapshot TakeMetricsSnapshot() => _runtime.TakeMetricsSnapshot(null);

    /// <summary>Every stage's counts now.</summary>
    /// <returns>The counts; exact once <see cref="Completion"/> has completed.</returns>
    public PipelineCounts GetCounts() => _runtime.GetCounts();

    /// <summary>
    /// Stops the pipeline as <see cref="StopAsync"/> does, draining for up to 30 seconds, then disposes
    /// its stages (they leave the <c>Engine</c> meter).
    /// </summary>
    /// <returns>A task that completes when the pipeline has stopped.</returns>
    public async ValueTask DisposeAsync()
    {
        await StopAsync(DisposeDrainTimeout).ConfigureAwait(false);
        await _runtime.DisposeNodesAsync().ConfigureAwait(false);
    }
}
