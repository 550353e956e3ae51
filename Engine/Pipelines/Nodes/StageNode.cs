using Engine.Metrics;
using Engine.Stages;
using Engine.Tracing;

namespace Engine.Pipelines.Nodes;

/// <summary>
/// A keyed stage in a pipeline. Its handler is one of: a transform (one output per input), an emitter
/// (zero or more outputs), or a sink (none). Outputs keep the input's entry timestamp.
/// </summary>
internal sealed class StageNode<TIn, TOut> : Node, ITarget<TIn>
{
    private readonly StageOptions<TIn> _options;
    private readonly Func<TIn, CancellationToken, ValueTask<TOut>>? _transform;
    private readonly Func<TIn, Emit<TOut>, CancellationToken, ValueTask>? _emitter;
    private readonly Func<TIn, ItemContext, CancellationToken, ValueTask>? _sink;
    private EmitBufferPool<TOut>? _buffers;
    private Stage<TIn>? _stage;

    private StageNode(string name, PipelineRuntime runtime, StageOptions<TIn> options)
        : base(name, runtime)
    {
        _options = options;
        Outlet = new Outlet<TOut>(this);
    }

    public StageNode(string name, PipelineRuntime runtime, StageOptions<TIn> options, Func<TIn, CancellationToken, ValueTask<TOut>> transform)
        : this(name, runtime, options) => _transform = transform;

    public StageNode(string name, PipelineRuntime runtime, StageOptions<TIn> options, Func<TIn, Emit<TOut>, CancellationToken, ValueTask> emitter)
        : this(name, runtime, options) => _emitter = emitter;

    public StageNode(string name, PipelineRuntime runtime, StageOptions<TIn> options, Func<TIn, ItemContext, CancellationToken, ValueTask> sink)
        : this(name, runtime, options)
    {
        _sink = sink;

        // A sink ends its branch: items settled here have finished their journey.
        options.RecordsEndToEnd = true;
    }

    public Outlet<TOut> Outlet { get; }

    /// <inheritdoc/>
    /// <remarks>
    /// A transform forwards exactly one output per processed run, as the run's last step (a run whose
    /// forward fails fails, and is retried or dead-lettered), so its outputs are its processed runs and
    /// no count is kept per forward: that count was an interlocked add per item on a counter every
    /// shard's workers share, 7% of the three-stage benchmark's profile. While items flow it trails the
    /// outputs by the runs a worker has not yet added (see <c>ProcessedRuns</c>); once the stage is done
    /// it is exact. An emitting stage counts each output it forwards.
    /// </remarks>
    public override long Emitted => _transform is not null ? _stage?.GetCounts().Processed ?? 0 : base.Emitted;

    public override bool IsSink => _sink is not null;

    public override Task Completion => _stage!.Completion;

    Node ITarget<TIn>.Node => this;

    public override void Start()
    {
        _stage = Stage.Create(_options, HandleAsync);
        _buffers = _emitter is null ? null : new EmitBufferPool<TOut>(((_options.Shards * _options.WorkersPerShard) + _options.UnkeyedWorkers));
    }

    /// <inheritdoc/>
    public bool StampsEntry => _stage is { StampsWrites: true };

    public ValueTask WriteAsync(TIn item, long entryTimestamp, object? trace, CancellationToken cancellationToken) =>
        _stage!.WriteAsync(item, entryTimestamp, trace, cancellationToken);

    public override void Complete() => _stage!.Complete();

    public override async ValueTask AbortAsync() => await _stage!.AbortAsync().ConfigureAwait(false);

    public override StageCounts GetCounts() => _stage?.GetCounts() ?? default;

    public override ValueTask DisposeAsync() => _stage?.DisposeAsync() ?? default;

    public override void OpenMetricsCursor(MetricsCursors consumer) => ((IStageMetricsSource?)_stage)?.OpenMetricsCursor(consumer);

    public override StageMetricsSnapshot? TakeMetricsSnapshot(MetricsCursors? consumer, long[] endToEnd, ref long endToEndSum) => _stage?.TakeMetricsSnapshot(consumer, endToEnd, ref endToEndSum);

    private ValueTask HandleAsync(TIn item, ItemContext context, CancellationToken cancellationToken)
    {
        if (_sink is not null)
        {
            return _sink(item, context, cancellationToken);
        }

        if (_transform is not null)
        {
            ValueTask<TOut> transformed = _transform(item, cancellationToken);
            return transformed.IsCompletedSuccessfully
                ? Forward(transformed.Result, context.EntryTimestamp, cancellationToken)
                : TransformAsync(transformed, context.EntryTimestamp, cancellationToken);
        }

        return EmitAsync(item, context.EntryTimestamp, cancellationToken);
    }

    private async ValueTask TransformAsync(ValueTask<TOut> transformed, long entryTimestamp, CancellationToken cancellationToken)
    {
        TOut output = await transformed.ConfigureAwait(false);
        await Forward(output, entryTimestamp, cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask EmitAsync(TIn item, long entryTimestamp, CancellationToken cancellationToken)
    {
        EmitBuffer<TOut> buffer = _buffers!.Rent();
        try
        {
            await _emitter!(item, buffer.Emit, cancellationToken).ConfigureAwait(false);

            // Only a successful attempt forwards: a failed one is retried or dead-lettered without
            // having let part of its output through.
            for (int i = 0; i < buffer.Count; i++)
            {
                EmittedCount.Increment();
                await Forward(buffer[i], entryTimestamp, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            _buffers.Return(buffer);
        }
    }

    /// <summary>
    /// Hands an output on. It runs inside this stage's handler run, so the context it carries is that
    /// run's activity when traced: the downstream run is its child, however the output is re-keyed.
    /// </summary>
    private ValueTask Forward(TOut output, long entryTimestamp, CancellationToken cancellationToken) =>
        Outlet.ForwardAsync(output, entryTimestamp, EngineTracing.Capture(), cancellationToken);
}
