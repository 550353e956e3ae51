using Engine.Dedupe;
using Engine.Retry;

namespace Engine.Stages;

/// <summary>
/// What every shard of a stage shares: the validated settings, the handler, and the abort state.
/// Built once from <see cref="StageOptions{T}"/>; read-only except for the abort flag.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001:Types that own disposable fields should be disposable",
    Justification = "The abort source has no timer and no links, so disposing it frees nothing; left undisposed, an AbortAsync after DisposeAsync stays safe.")]
internal sealed class StageRuntime<T>
{
    /// <summary>Cancelled by <see cref="TryAbort"/>; never disposed (see the suppression above).</summary>
    private readonly CancellationTokenSource _abort = new();
    private int _aborted;

    public StageRuntime(StageOptions<T> options, Func<T, CancellationToken, ValueTask>? asyncHandler, Action<T, CancellationToken>? syncHandler, Func<T, ItemContext, CancellationToken, ValueTask>? contextHandler = null)
    {
        Name = options.Name;
        FullMode = options.FullMode;
        Capacity = options.Capacity;
        TimeProvider = options.TimeProvider;
        Retry = options.Retry is null ? RetryPolicy.None : new RetryPolicy(options.Retry);
        Dedupe = options.Dedupe is null ? null : new DedupePolicy<T>(options.Dedupe, options.Shards);
        OnDropped = options.OnDropped;
        MetricsEnabled = options.Metrics;
        PipelineName = options.PipelineName;
        RecordsEndToEnd = options.RecordsEndToEnd;
        KindSelector = options.Metrics ? options.KindSelector : null;
        Kinds = KindSelector is null ? null : new Metrics.KindTable(options.MaxKinds);
        OnDeadLetter = options.OnDeadLetter;
        AsyncHandler = asyncHandler;
        SyncHandler = syncHandler;
        ContextHandler = contextHandler;
        AbortToken = _abort.Token;
    }

    public string Name { get; }

    public StageFullMode FullMode { get; }

    public int Capacity { get; }

    public TimeProvider TimeProvider { get; }

    public RetryPolicy Retry { get; }

    /// <summary>Whether timings are recorded (see <see cref="StageOptions{T}.Metrics"/>).</summary>
    public bool MetricsEnabled { get; }

    /// <summary>
    /// Whether a write must read the clock: the accept timestamp feeds the queue wait (metrics) and the
    /// entry timestamp the handler's <see cref="ItemContext"/> (and from there the pipeline's end-to-end
    /// latency). Without either, nothing reads them and a write skips the clock.
    /// </summary>
    public bool StampsWrites => MetricsEnabled || ContextHandler is not null;

    /// <summary>The pipeline the stage belongs to, or null.</summary>
    public string? PipelineName { get; }

    /// <summary>Whether the stage records end-to-end latency (it ends a pipeline branch).</summary>
    public bool RecordsEndToEnd { get; }

    /// <summary>The kind dimension's selector, when metrics are on and one is set.</summary>
    public Func<T, string?>? KindSelector { get; }

    /// <summary>The kinds seen so far; null without a <see cref="KindSelector"/>.</summary>
    public Metrics.KindTable? Kinds { get; }

    /// <summary>The dedupe settings; null when the stage does not dedupe.</summary>
    public DedupePolicy<T>? Dedupe { get; }

    public Action<T, DropReason>? OnDropped { get; }

    public Action<T, ItemFailure>? OnDeadLetter { get; }

    /// <summary>The handler when it wants the item's context (entry timestamp, attempt); pipelines use this form.</summary>
    public Func<T, ItemContext, CancellationToken, ValueTask>? ContextHandler { get; }

    /// <summary>The handler when it is asynchronous without context; null when another form is set.</summary>
    public Func<T, CancellationToken, ValueTask>? AsyncHandler { get; }

    /// <summary>The handler when it is synchronous; it runs with no async state machine at all.</summary>
    public Action<T, CancellationToken>? SyncHandler { get; }

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
