using Engine.Tracing;

namespace Engine.Pipelines.Nodes;

/// <summary>
/// The pipeline's entry: stamps each written item with its entry timestamp and forwards it to the head
/// stages. It has no buffer of its own; it completes when the pipeline is completed.
/// </summary>
internal sealed class SourceNode<T> : Node, ISourceNode
{
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _written;

    public SourceNode(PipelineRuntime runtime)
        : base("(source)", runtime) => Outlet = new Outlet<T>(this, faultOnArgumentError: false);

    public Outlet<T> Outlet { get; }

    public override bool IsSink => false;

    public override Task Completion => _completion.Task;

    public override void Start()
    {
    }

    public async ValueTask WriteAsync(T item, CancellationToken cancellationToken)
    {
        // One head stage that stamps its writes stamps the entry too (0: "entering now"), which spares a
        // clock read per item; with several heads, each must see the same entry, read here once.
        long entry = Outlet.TargetStampsEntry ? 0 : Runtime.TimeProvider.GetTimestamp();
        await Outlet.ForwardAsync(item, entry, EngineTracing.Capture(), cancellationToken).ConfigureAwait(false);
        Interlocked.Increment(ref _written);
    }

    public override void Complete() => _completion.TrySetResult();

    public override ValueTask AbortAsync()
    {
        _completion.TrySetCanceled();
        return default;
    }

    public override StageCounts GetCounts()
    {
        long written = Volatile.Read(ref _written);
        return new StageCounts { Accepted = written, Processed = written };
    }
}

/// <summary>Marks the source node, which is not a stage and is left out of the counts.</summary>
internal interface ISourceNode
{
}
