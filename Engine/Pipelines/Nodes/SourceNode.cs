using Engine.Tracing;

namespace Engine.Pipelines.Nodes;

/// <summary>
/// The pipeline's entry: stamps each written item with its entry timestamp and forwards it to the head
/// stages. It has no buffer of its own; it completes when the pipeline is completed.
/// </summary>
internal sealed class SourceNode<T> : Node, ISourceNode
{
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public SourceNode(PipelineRuntime runtime)
        : base("(source)", runtime) => Outlet = new Outlet<T>(this, faultOnArgumentError: false);

    public Outlet<T> Outlet { get; }

    public override bool IsSink => false;

    public override Task Completion => _completion.Task;

    public override void Start()
    {
    }

    /// <summary>
    /// Forwards an item to the head stages. Not an async method: a write the heads accept at once
    /// returns without a state machine, and the source keeps no count of its own (the pipeline's counts
    /// are its stages'; each head counts what it accepted).
    /// </summary>
    public ValueTask WriteAsync(T item, CancellationToken cancellationToken)
    {
        // One head stage that stamps its writes stamps the entry too (0: "entering now"), which spares a
        // clock read per item; with several heads, each must see the same entry, read here once.
        long entry = Outlet.TargetStampsEntry ? 0 : Runtime.TimeProvider.GetTimestamp();
        return Outlet.ForwardAsync(item, entry, EngineTracing.Capture(), cancellationToken);
    }

    public override void Complete() => _completion.TrySetResult();

    public override ValueTask AbortAsync()
    {
        _completion.TrySetCanceled();
        return default;
    }

    /// <summary>Nothing: the source is left out of the pipeline's counts (see <see cref="ISourceNode"/>), so it counts nothing.</summary>
    public override StageCounts GetCounts() => default;
}

/// <summary>Marks the source node, which is not a stage and is left out of the counts.</summary>
internal interface ISourceNode
{
}
