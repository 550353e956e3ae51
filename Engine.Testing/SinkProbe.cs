using System.Collections.Concurrent;
using Engine.Pipelines;

namespace Engine.Testing;

/// <summary>
/// A sink that records what reached it, in arrival order, with each item's attempt and end-to-end age
/// on the harness's clock. Pass <see cref="HandleAsync"/> as a sink's handler
/// (<c>.Sink("store", probe.HandleAsync)</c>, or a stage's context handler). Get one from
/// <see cref="EngineHarness.Sink{T}"/>.
/// </summary>
/// <typeparam name="T">The item type.</typeparam>
public sealed class SinkProbe<T>
{
    private readonly TimeProvider _clock;
    private readonly Func<T, ItemContext, CancellationToken, ValueTask>? _then;
    private readonly ConcurrentQueue<SinkRecord<T>> _received = new();

    internal SinkProbe(TimeProvider clock, Func<T, ItemContext, CancellationToken, ValueTask>? then)
    {
        _clock = clock;
        _then = then;
    }

    /// <summary>Everything that reached the sink so far, in arrival order (a copy).</summary>
    public IReadOnlyList<SinkRecord<T>> Received => [.. _received];

    /// <summary>The items that reached the sink so far, in arrival order (a copy).</summary>
    public IReadOnlyList<T> Items => [.. _received.Select(r => r.Item)];

    /// <summary>How many items reached the sink so far.</summary>
    public int Count => _received.Count;

    /// <summary>
    /// The sink's handler: runs the probe's own handler, if it was given one (an exception it throws
    /// fails the run, which the stage retries or dead-letters, and the item is not recorded), then records the item.
    /// </summary>
    /// <param name="item">The item.</param>
    /// <param name="context">The run's context (attempt, entry time).</param>
    /// <param name="cancellationToken">The stage's abort token.</param>
    /// <returns>A task that completes when the item is recorded.</returns>
    public ValueTask HandleAsync(T item, ItemContext context, CancellationToken cancellationToken)
    {
        if (_then is null)
        {
            Record(item, context);
            return default;
        }

        return ThenRecordAsync(item, context, cancellationToken);
    }

    private async ValueTask ThenRecordAsync(T item, ItemContext context, CancellationToken cancellationToken)
    {
        await _then!(item, context, cancellationToken).ConfigureAwait(false);
        Record(item, context);
    }

    private void Record(T item, ItemContext context) => _received.Enqueue(new SinkRecord<T>(item, context.Attempt, context.Age, _clock.GetUtcNow()));
}
