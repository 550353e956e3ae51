using Engine.Internal;
using Engine.Metrics;

namespace Engine.Pipelines.Nodes;

/// <summary>
/// A vertex of a pipeline graph: a stage, a batcher or a channel sink. Nodes are created by the
/// builder, started by <see cref="PipelineRuntime"/>, and complete once every upstream has completed
/// (fan-in completes only after all of them) and they have settled what they accepted.
/// </summary>
internal abstract class Node
{
    private int _pendingUpstreams;

    protected Node(string name, PipelineRuntime runtime)
    {
        Name = name;
        Runtime = runtime;
    }

    /// <summary>The node's name, unique in its pipeline.</summary>
    public string Name { get; }

    /// <summary>The pipeline the node belongs to.</summary>
    public PipelineRuntime Runtime { get; }

    /// <summary>Nodes that write into this one.</summary>
    public List<Node> Upstream { get; } = [];

    /// <summary>Nodes this one writes into.</summary>
    public List<Node> Downstream { get; } = [];

    /// <summary>Whether the node ends a branch (it forwards nothing).</summary>
    public abstract bool IsSink { get; }

    /// <summary>Completes when the node has settled everything; cancelled after an abort.</summary>
    public abstract Task Completion { get; }

    /// <summary>Outputs forwarded downstream so far (for a batcher: batches).</summary>
    public virtual long Emitted => EmittedCount.Read();

    /// <summary>Outputs forwarded downstream so far; bumped by the node's forwarding code, from every shard's workers at once.</summary>
    protected StripedCounter EmittedCount { get; } = new();

    /// <summary>Creates the node's runtime parts (validates its options). Called once, by <see cref="PipelineRuntime"/>.</summary>
    public abstract void Start();

    /// <summary>Stops accepting items; the node completes once it has settled what it holds.</summary>
    public abstract void Complete();

    /// <summary>Abandons what the node holds and cancels its running work.</summary>
    public abstract ValueTask AbortAsync();

    /// <summary>The node's item counts.</summary>
    public abstract StageCounts GetCounts();

    /// <summary>The window accounting of a keyed window step; null for every other node.</summary>
    public virtual WindowCounts? GetWindowCounts() => null;

    /// <summary>
    /// The figures of a node that takes items but is not a stage (a batcher, a channel sink), set by the
    /// node when it starts; null for the source, and for stages, whose figures are their stage's.
    /// </summary>
    protected NodeMetrics? OwnMetrics { get; set; }

    /// <summary>Opens <paramref name="consumer"/>'s metrics cursor on this node's figures, if it has any.</summary>
    public virtual void OpenMetricsCursor(MetricsCursors consumer) => OwnMetrics?.OpenMetricsCursor(consumer);

    /// <summary>Closes <paramref name="consumer"/>'s metrics interval on the node (null for the source), adding a sink stage's end-to-end buckets to <paramref name="endToEnd"/>.</summary>
    public virtual StageMetricsSnapshot? TakeMetricsSnapshot(MetricsCursors? consumer, long[] endToEnd, ref long endToEndSum) =>
        OwnMetrics?.TakeMetricsSnapshot(consumer, endToEnd, ref endToEndSum);

    /// <summary>Releases what the node holds once the pipeline has stopped (it leaves the meter).</summary>
    public virtual ValueTask DisposeAsync()
    {
        OwnMetrics?.Unregister();
        return default;
    }

    /// <summary>Sets how many upstreams must complete before this node completes.</summary>
    public void ExpectUpstreams(int count) => _pendingUpstreams = count;

    /// <summary>One upstream has completed; the last one completes this node.</summary>
    public void UpstreamCompleted()
    {
        if (Interlocked.Decrement(ref _pendingUpstreams) == 0)
        {
            Complete();
        }
    }
}
