using System.Globalization;
using Engine.Inspection;
using Engine.Internal;
using Engine.Metrics;
using Engine.Routing;
using Engine.Stages;
using Engine.Windows;

namespace Engine.Pipelines.Nodes;

/// <summary>
/// A keyed window step in a pipeline: a stage whose handler folds each item into its key's window on
/// the shard that owns the key (<see cref="WindowShard{T, TAcc}"/>), and one loop per shard that
/// closes windows on the pipeline's clock and forwards them. The stage's accounting is untouched (a
/// fold is a handler run: processed, or retried and dead-lettered); the windows keep their own
/// (<see cref="WindowCounts"/>). Completion flushes every open window once the stage has settled every
/// item; an abort abandons them, counted.
/// </summary>
#pragma warning disable CA1001 // The abort source lives as long as the pipeline and has no timer: nothing leaks if it is not disposed.
internal sealed class KeyedWindowNode<T, TAcc> : Node, ITarget<T>, IWindowMetricsSource, IWatchedPart
#pragma warning restore CA1001
{
    private readonly KeyedWindowOptions<T> _options;
    private readonly WindowSpec _spec;
    private readonly Func<TAcc>? _seed;
    private readonly Func<TAcc, T, TAcc>? _fold;
    private readonly CancellationTokenSource _abort = new();
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The cursors of snapshots taken without a consumer.</summary>
    private readonly MetricsCursors _ownCursors = new();
    private Stage<T>? _stage;
    private Func<T, ItemKey>? _key;
    private WindowShard<T, TAcc>[] _shards = [];
    private Task[] _loops = [];
    private EngineMeter? _meter;

    public KeyedWindowNode(string name, PipelineRuntime runtime, KeyedWindowOptions<T> options, WindowSpec spec, Func<TAcc>? seed, Func<TAcc, T, TAcc>? fold)
        : base(name, runtime)
    {
        _options = options;
        _spec = spec;
        _seed = seed;
        _fold = fold;
        Outlet = new Outlet<KeyedWindow<TAcc>>(this);
    }

    public Outlet<KeyedWindow<TAcc>> Outlet { get; }

    public override bool IsSink => false;

    public override Task Completion => _completion.Task;

    /// <inheritdoc/>
    public bool StampsEntry => _stage is { StampsWrites: true };

    Node ITarget<T>.Node => this;

    /// <inheritdoc/>
    public string? PipelineName => Runtime.Name;

    /// <summary>Validates the step (naming the stage and the option), creates its stage and shards, and starts the loops.</summary>
    public override void Start()
    {
        _spec.Validate(Name);
        string owner = WindowSpec.Owner(Name);
        if (_seed is null)
        {
            throw OptionsValidation.Invalid(owner, "seed", "is required.");
        }

        if (_fold is null)
        {
            throw OptionsValidation.Invalid(owner, "fold", "is required.");
        }

        StageOptions<T> stage = _options.Stage;
        if (_options.MaxOpenWindows < Math.Max(1, stage.Shards))
        {
            throw OptionsValidation.Invalid(owner, "MaxOpenWindows", $"({_options.MaxOpenWindows}) must be at least the stage's Shards ({stage.Shards}), so every shard may hold a window.");
        }

        if (!Enum.IsDefined(_options.FullMode))
        {
            throw OptionsValidation.Invalid(owner, "FullMode", $"({_options.FullMode}) is not a WindowFullMode.");
        }

        _stage = Stage.Create<T>(stage, HandleAsync);
        _key = stage.KeySelector;
        _meter = stage.Metrics ? EngineMeter.For(stage.MeterFactory) : null;

        // Keyed shards share the cap exactly; items without a key all share one window on the unkeyed shard.
        int keyed = stage.Shards;
        _shards = new WindowShard<T, TAcc>[keyed + 1];
        _loops = new Task[keyed + 1];
        for (int i = 0; i <= keyed; i++)
        {
            int cap = i == keyed ? 1 : (_options.MaxOpenWindows / keyed) + (i < _options.MaxOpenWindows % keyed ? 1 : 0);
            var instruments = new WindowInstruments(_meter, EngineMeter.TagsFor(Runtime.Name, Name, i));
            _shards[i] = new WindowShard<T, TAcc>(_spec, _seed, _fold, cap, _options.FullMode, Runtime.TimeProvider, ForwardAsync, instruments);
        }

        for (int i = 0; i <= keyed; i++)
        {
            _loops[i] = RunLoopAsync(_shards[i]);
        }

        _meter?.Register(this);
        (Runtime.TimeProvider as IWatchingClock)?.Watch(this);
        _ = FinishAsync();
    }

    public ValueTask WriteAsync(T item, long entryTimestamp, object? trace, CancellationToken cancellationToken) =>
        _stage!.WriteAsync(item, entryTimestamp, trace, cancellationToken);

    public override void Complete() => _stage!.Complete();

    public override async ValueTask AbortAsync()
    {
        if (!_abort.IsCancellationRequested)
        {
            await _abort.CancelAsync().ConfigureAwait(false);
        }

        if (_stage is not null)
        {
            await _stage.AbortAsync().ConfigureAwait(false);
        }

        await Completion.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    public override StageCounts GetCounts() => _stage?.GetCounts() ?? default;

    /// <summary>The window accounting over every shard.</summary>
    public override WindowCounts? GetWindowCounts()
    {
        WindowCounts total = default;
        foreach (WindowShard<T, TAcc> shard in _shards)
        {
            total += shard.GetCounts();
        }

        return total;
    }

    public override async ValueTask DisposeAsync()
    {
        _meter?.Unregister(this);
        if (_stage is not null)
        {
            await _stage.DisposeAsync().ConfigureAwait(false);
        }

        _ownCursors.Dispose();
    }

    public override void OpenMetricsCursor(MetricsCursors consumer)
    {
        ((IStageMetricsSource?)_stage)?.OpenMetricsCursor(consumer);
        _ = CursorFor(consumer);
    }

    public override StageMetricsSnapshot? TakeMetricsSnapshot(MetricsCursors? consumer, long[] endToEnd, ref long endToEndSum)
    {
        StageMetricsSnapshot? stage = _stage?.TakeMetricsSnapshot(consumer, endToEnd, ref endToEndSum);
        if (stage is null)
        {
            return null;
        }

        WindowCursor cursor = CursorFor(consumer ?? _ownCursors);
        var windows = new List<WindowMetricsSnapshot>(_shards.Length);
        for (int i = 0; i < _shards.Length; i++)
        {
            WindowCounts counts = _shards[i].GetCounts();
            if (counts.Folded == 0)
            {
                continue;
            }

            windows.Add(_shards[i].TakeSnapshot(i, counts, cursor.Items[i], cursor.Lateness[i], cursor.Interval));
        }

        return stage with { Windows = windows };
    }

    /// <inheritdoc/>
    public IEnumerable<(WindowMetricsSnapshot Live, KeyValuePair<string, object?>[] Tags)> LiveWindows()
    {
        for (int i = 0; i < _shards.Length; i++)
        {
            WindowCounts counts = _shards[i].GetCounts();
            if (counts.Folded > 0)
            {
                yield return (new WindowMetricsSnapshot { Shard = i, Counts = counts }, EngineMeter.TagsFor(Runtime.Name, Name, i));
            }
        }
    }

    string? IWatchedPart.Pipeline => Runtime.Name;

    /// <summary>The step's stage is watched on its own (it registers itself), so its counts are checked there, not twice.</summary>
    StageCounts IWatchedPart.GetCounts() => default;

    /// <summary>
    /// Busy while a shard's loop can move without the clock (it closes or forwards windows, or was
    /// woken); otherwise each shard's open windows wait for their deadline on the clock.
    /// </summary>
    void IWatchedPart.Inspect(List<PartState> into)
    {
        if (Completion.IsCompleted)
        {
            return;
        }

        for (int i = 0; i < _shards.Length; i++)
        {
            if (_loops[i].IsCompleted)
            {
                continue;
            }

            WindowShardActivity shard = _shards[i].Inspect();
            if (shard.Busy)
            {
                into.Add(new PartState(Runtime.Name, Name, i, null, $"closing or forwarding windows ({shard.Open} open, {shard.Closing} closed not yet forwarded)", true));
            }
            else if (shard.Open > 0)
            {
                string closes = shard.NextClose is { } next ? next.ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture) : "?";
                into.Add(new PartState(Runtime.Name, Name, i, null, $"{shard.Open} window(s) open ({shard.OpenItems} item(s)), the next closes at {closes}", false));
            }
        }
    }

    private WindowCursor CursorFor(MetricsCursors consumer) =>
        consumer.For(this, () => new WindowCursor(_shards.Length), _ => { });

    private ValueTask HandleAsync(T item, ItemContext context, CancellationToken cancellationToken)
    {
        // The key the stage routed by: its shard owns the key, so its windows live there.
        ItemKey key = _key is null ? ItemKey.None : _key(item);
        return _shards[_stage!.ShardOf(key)].FoldAsync(item, key, context.EntryTimestamp, cancellationToken);
    }

    private ValueTask ForwardAsync(KeyedWindow<TAcc> window, long entryTimestamp, CancellationToken cancellationToken)
    {
        EmittedCount.Increment();
        return Outlet.ForwardAsync(window, entryTimestamp, null, cancellationToken);
    }

    private async Task RunLoopAsync(WindowShard<T, TAcc> shard)
    {
        // Leave the caller (Start) at once: the loop's first pass runs on the pool.
        await Task.Yield();
        try
        {
            await shard.RunAsync(_abort.Token).ConfigureAwait(false);
        }
        catch (Exception) when (_abort.IsCancellationRequested || Runtime.IsAborted)
        {
            // Aborted (or a downstream stopped because the pipeline is aborting): what the shard still
            // holds is counted abandoned once the stage has stopped too (see FinishAsync).
        }
        catch (Exception ex)
        {
            // A window could not be delivered for a reason other than an abort: the pipeline faults.
            Runtime.Fault(this, ex);
            throw;
        }
    }

    /// <summary>Once the stage has settled every item: flush and forward every open window (or, after an abort, count them abandoned) and complete.</summary>
    private async Task FinishAsync()
    {
        await _stage!.Completion.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        bool completed = _stage.Completion.IsCompletedSuccessfully && !_abort.IsCancellationRequested && !Runtime.IsAborted;
        if (completed)
        {
            foreach (WindowShard<T, TAcc> shard in _shards)
            {
                shard.BeginCompleting();
            }
        }
        else if (!_abort.IsCancellationRequested)
        {
            await _abort.CancelAsync().ConfigureAwait(false);
        }

        Exception? failure = null;
        foreach (Task loop in _loops)
        {
            try
            {
                await loop.ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                failure ??= ex;
            }
        }

        foreach (WindowShard<T, TAcc> shard in _shards)
        {
            shard.AbandonRest();
        }

        if (failure is not null)
        {
            _completion.TrySetException(failure);
        }
        else if (completed && !_abort.IsCancellationRequested)
        {
            _completion.TrySetResult();
        }
        else
        {
            _completion.TrySetCanceled();
        }
    }

    /// <summary>One consumer's place in every shard's window histograms.</summary>
    private sealed class WindowCursor
    {
        public WindowCursor(int shards)
        {
            Items = new HistogramCursor[shards];
            Lateness = new HistogramCursor[shards];
            for (int i = 0; i < shards; i++)
            {
                Items[i] = new HistogramCursor();
                Lateness[i] = new HistogramCursor();
            }
        }

        public HistogramCursor[] Items { get; }

        public HistogramCursor[] Lateness { get; }

        /// <summary>Scratch space for one read, reused (a consumer reads one snapshot at a time).</summary>
        public HistogramInterval Interval { get; } = new();
    }
}
