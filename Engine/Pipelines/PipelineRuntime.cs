using Engine.Metrics;
using Engine.Pipelines.Nodes;

namespace Engine.Pipelines;

/// <summary>
/// A built pipeline's graph and lifecycle: starts the nodes, completes each once all its upstreams
/// have, aborts them together, and records the first fatal error.
/// </summary>
internal sealed class PipelineRuntime
{
    private readonly List<Node> _nodes = [];
    private Exception? _fault;
    private string? _faultedStage;
    private int _aborted;

    public PipelineRuntime(string name, TimeProvider timeProvider)
    {
        Name = name;
        TimeProvider = timeProvider;
    }

    public string Name { get; }

    public TimeProvider TimeProvider { get; }

    /// <summary>Whether stages record timings unless configured otherwise.</summary>
    public bool MetricsEnabled { get; init; } = true;

    /// <summary>The meter factory stages use unless configured otherwise; null for the engine's static meter.</summary>
    public System.Diagnostics.Metrics.IMeterFactory? MeterFactory { get; init; }

    /// <summary>Every node, the source first, in the order they were added.</summary>
    public IReadOnlyList<Node> Nodes => _nodes;

    /// <summary>Completes when every node has; faults with <see cref="PipelineFaultedException"/> or is cancelled after an abort.</summary>
    public Task Completion { get; private set; } = Task.CompletedTask;

    public bool IsAborted => Volatile.Read(ref _aborted) != 0;

    public void Add(Node node) => _nodes.Add(node);

    /// <summary>Starts every node and wires completion along the edges. Nodes must already be validated.</summary>
    public void Start()
    {
        foreach (Node node in _nodes)
        {
            node.ExpectUpstreams(node.Upstream.Count);
        }

        foreach (Node node in _nodes)
        {
            node.Start();
        }

        foreach (Node node in _nodes)
        {
            _ = PropagateCompletionAsync(node);
        }

        Completion = CompleteAsync();
    }

    /// <summary>
    /// Aborts every node, upstream first: waiting items are abandoned, running handlers cancelled. An
    /// upstream is aborted before its downstreams, so a worker blocked forwarding into a downstream
    /// sees its own abort (its item is abandoned) before that downstream stops taking items.
    /// </summary>
    public async ValueTask AbortAsync()
    {
        Interlocked.Exchange(ref _aborted, 1);
        var aborts = new List<Task>(_nodes.Count);
        foreach (Node node in UpstreamFirst())
        {
            // Each node marks itself aborted before its first await, so by the time this loop ends no
            // node runs a new item.
            aborts.Add(node.AbortAsync().AsTask());
        }

        await Task.WhenAll(aborts).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    /// <summary>
    /// A fatal error in <paramref name="node"/> (a defect such as a throwing key selector downstream):
    /// the pipeline aborts and completes with the error. Only the first fault is kept.
    /// </summary>
    public void Fault(Node node, Exception error)
    {
        // Once aborting, downstream errors are the abort's own doing, not a defect.
        if (IsAborted)
        {
            return;
        }

        if (Interlocked.CompareExchange(ref _fault, error, null) is null)
        {
            _faultedStage = node.Name;
            _ = AbortAsync().AsTask();
        }
    }

    public PipelineCounts GetCounts()
    {
        var stages = new List<PipelineStageCounts>(_nodes.Count);
        foreach (Node node in _nodes)
        {
            if (node is not ISourceNode)
            {
                stages.Add(new PipelineStageCounts(node.Name, node.GetCounts(), node.Emitted) { Windows = node.GetWindowCounts() });
            }
        }

        return new PipelineCounts(stages);
    }

    /// <summary>The nodes in topological order (Kahn's algorithm; the graph was checked to be acyclic).</summary>
    private List<Node> UpstreamFirst()
    {
        var pending = new Dictionary<Node, int>(ReferenceEqualityComparer.Instance);
        foreach (Node node in _nodes)
        {
            pending[node] = node.Upstream.Count;
        }

        var order = new List<Node>(_nodes.Count);
        var ready = new Queue<Node>(_nodes.Where(n => n.Upstream.Count == 0));
        while (ready.TryDequeue(out Node? node))
        {
            order.Add(node);
            foreach (Node next in node.Downstream)
            {
                if (--pending[next] == 0)
                {
                    ready.Enqueue(next);
                }
            }
        }

        // Anything left (only possible for an unvalidated graph) goes last rather than not at all.
        order.AddRange(_nodes.Where(n => !order.Contains(n)));
        return order;
    }

    /// <summary>Disposes every node; call once the pipeline has stopped.</summary>
    public async ValueTask DisposeNodesAsync()
    {
        foreach (Node node in _nodes)
        {
            await node.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Opens <paramref name="consumer"/>'s metrics cursors on every started stage.</summary>
    public void OpenMetricsCursors(MetricsCursors consumer)
    {
        foreach (Node node in _nodes)
        {
            node.OpenMetricsCursor(consumer);
        }
    }

    /// <summary>Every stage's snapshot for <paramref name="consumer"/> (null: each stage's own cursor) and the end-to-end latency over the sinks.</summary>
    public PipelineMetricsSnapshot TakeMetricsSnapshot(MetricsCursors? consumer)
    {
        var endToEnd = new long[LatencyHistogram.BucketCount];
        long endToEndSum = 0;
        var stages = new List<StageMetricsSnapshot>(_nodes.Count);
        foreach (Node node in _nodes)
        {
            if (node.TakeMetricsSnapshot(consumer, endToEnd, ref endToEndSum) is { } snapshot)
            {
                stages.Add(snapshot);
            }
        }

        return new PipelineMetricsSnapshot
        {
            Pipeline = Name,
            Timestamp = TimeProvider.GetUtcNow(),
            Stages = stages,
            EndToEnd = LatencySummary.Merge(endToEnd, endToEndSum, stages.Select(s => s.EndToEnd ?? LatencySummary.Empty)),
        };
    }

    private static async Task PropagateCompletionAsync(Node node)
    {
        await node.Completion.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        foreach (Node downstream in node.Downstream)
        {
            downstream.UpstreamCompleted();
        }
    }

    private async Task CompleteAsync()
    {
        await Task.WhenAll(_nodes.Select(n => n.Completion)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (Volatile.Read(ref _fault) is { } fault)
        {
            throw new PipelineFaultedException(
                $"Pipeline '{Name}' faulted in stage '{_faultedStage}': {fault.Message} Items still inside were abandoned; see Counts.",
                _faultedStage!,
                GetCounts(),
                fault);
        }

        if (IsAborted)
        {
            throw new OperationCanceledException($"Pipeline '{Name}' was aborted.");
        }
    }
}
