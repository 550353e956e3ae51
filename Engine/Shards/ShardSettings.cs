using Engine.Dedupe;
using Engine.Queues;
using Engine.RateLimits;
using Engine.Retry;
using Engine.Timing;

namespace Engine.Shards;

/// <summary>
/// What every shard of a stage shares: the validated settings, the handler, and the abort state.
/// Built once by the stage from its validated options; read-only except for the abort flag.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001:Types that own disposable fields should be disposable",
    Justification = "The abort source has no timer and no links, so disposing it frees nothing; left undisposed, an AbortAsync after DisposeAsync stays safe.")]
internal sealed class ShardSettings<T>
{
    /// <summary>Cancelled by <see cref="TryAbort"/>; never disposed (see the suppression above).</summary>
    private readonly CancellationTokenSource _abort = new();
    private int _aborted;

    public ShardSettings() => AbortToken = _abort.Token;

    public required string Name { get; init; }

    public StageFullMode FullMode { get; init; }

    public int Capacity { get; init; }

    /// <summary>Which channel the shards queue in.</summary>
    public ShardQueue Queue { get; init; }

    public required TimeProvider TimeProvider { get; init; }

    public required RetryPolicy Retry { get; init; }

    /// <summary>Delayed writes, requeues and deferrals (the stage option <c>Delays</c>); null when off.</summary>
    public DelayOptions? Delays { get; init; }

    /// <summary>Debounce per dedupe key (the stage option <c>Debounce</c>); null when off.</summary>
    public DebounceOptions? Debounce { get; init; }

    /// <summary>The stage's rate limit, which wraps the handler (the stage option <c>RateLimit</c>); null when off.</summary>
    public RateLimitGate<T>? RateLimit { get; init; }

    /// <summary>Whether any item may wait for its time other than for a retry: keyed shards then track their keys.</summary>
    public bool HoldsForTime => Delays is not null || Debounce is not null || RateLimit is not null;

    /// <summary>The retry backoff's jitter, a number in [0, 1); tests set their own.</summary>
    public Func<double> Jitter { get; init; } = Random.Shared.NextDouble;

    /// <summary>Whether timings are recorded (the stage option <c>Metrics</c>).</summary>
    public bool MetricsEnabled { get; init; }

    /// <summary>One write in this many is timed for the queue wait (the stage option <c>LatencySampling</c>, a power of two).</summary>
    public int LatencySampling { get; init; } = 1;

    /// <summary>
    /// Whether a write must read the clock: the accept timestamp feeds the queue wait (metrics) and the
    /// entry timestamp the handler's <see cref="ItemContext"/> (and from there the pipeline's end-to-end
    /// latency). Without either, nothing reads them and a write skips the clock.
    /// </summary>
    public bool StampsWrites => MetricsEnabled || ContextHandler is not null;

    /// <summary>The pipeline the stage belongs to, or null.</summary>
    public string? PipelineName { get; init; }

    /// <summary>Whether the stage records end-to-end latency (it ends a pipeline branch).</summary>
    public bool RecordsEndToEnd { get; init; }

    /// <summary>The kind dimension's selector, when metrics are on and one is set.</summary>
    public Func<T, string?>? KindSelector { get; init; }

    /// <summary>The dedupe settings; null when the stage does not dedupe.</summary>
    public DedupePolicy<T>? Dedupe { get; init; }

    public Action<T, DropReason>? OnDropped { get; init; }

    public Action<T, ItemFailure>? OnDeadLetter { get; init; }

    /// <summary>Told of every failed handler run (see <c>StageOptions.OnHandlerError</c>).</summary>
    public Action<T, ItemFailure>? OnHandlerError { get; init; }

    /// <summary>The handler when it wants the item's context (entry timestamp, attempt); pipelines use this form.</summary>
    public Func<T, ItemContext, CancellationToken, ValueTask>? ContextHandler { get; init; }

    /// <summary>The handler when it is asynchronous without context; null when another form is set.</summary>
    public Func<T, CancellationToken, ValueTask>? AsyncHandler { get; init; }

    /// <summary>The handler when it is synchronous; it runs with no async state machine at all.</summary>
    public Action<T, CancellationToken>? SyncHandler { get; init; }

    /// <summary>Cancelled when the stage aborts; handed to every handler run.</summary>
    public CancellationToken AbortToken { get; }

    /// <summary>Whether the stage has aborted; once true, every item a shard still holds is abandoned.</summary>
    public bool IsAborted => Volatile.Read(ref _aborted) != 0;

    /// <summary>Marks the stage aborted and cancels handlers; true only for the first caller.</summary>
    public bool TryAbort()
    {
        if (Interlocked.Exchange(ref _aborted, 1) != 0)
        {
            return false;
        }

        try
        {
            _abort.Cancel();
        }
        catch (AggregateException)
        {
            // A callback a handler registered on the token threw. The abort itself has happened; the
            // handler's own outcome is accounted for when it returns.
        }

        return true;
    }
}
