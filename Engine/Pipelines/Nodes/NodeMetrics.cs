using Engine.Metrics;

namespace Engine.Pipelines.Nodes;

/// <summary>
/// The figures of a node that accepts items but is not a stage (a batcher, a channel sink): its counts
/// and depth, as one shard numbered 0, published through the same paths as a stage's (its snapshot in
/// <see cref="PipelineMetricsSnapshot.Stages"/>, so the console and InfluxDB reporters, and the
/// <c>Engine</c> meter), so the figures of every node add up to what <c>GetCounts()</c> says. Such a
/// node runs no handler: its work and queue-wait distributions are empty and its busy time is 0.
/// </summary>
internal sealed class NodeMetrics : IStageMetricsSource
{
    private readonly Node _node;

    /// <summary>The snapshot cursors; one shard, with no recorded timings.</summary>
    private readonly StageMetrics _figures;

    /// <summary>Reads the node's counts, for <see cref="_figures"/>' snapshots (made once, not per snapshot).</summary>
    private readonly Func<int, StageCounts> _readCounts;

    /// <summary>The cursor of the pipeline's own <c>TakeMetricsSnapshot()</c>.</summary>
    private readonly MetricsCursor _ownCursor;

    private readonly EngineMeter _meter;

    /// <summary>Registers the node's figures on the pipeline's meter; <see cref="Unregister"/> takes them off.</summary>
    public NodeMetrics(Node node)
    {
        _node = node;
        PipelineRuntime runtime = node.Runtime;
        _figures = new StageMetrics(runtime.Name, node.Name, runtime.TimeProvider, metricsEnabled: false, recordsEndToEnd: false, new ShardMetrics?[1], workers: [0], kinds: null, runtime.TimeProvider.GetTimestamp());
        _readCounts = _ => node.GetCounts();
        _ownCursor = _figures.OpenCursor();
        _meter = EngineMeter.For(runtime.MeterFactory);
        _meter.Register(this);
    }

    public string Name => _node.Name;

    public string? PipelineName => _node.Runtime.Name;

    public int ShardCount => 1;

    public StageCounts GetShardCounts(int shard) => _node.GetCounts();

    public double ShardBusySeconds(int shard) => 0;

    public bool ShardUsed(int shard)
    {
        StageCounts counts = _node.GetCounts();
        return counts.Accepted > 0 || counts.Refused > 0;
    }

    public void OpenMetricsCursor(MetricsCursors consumer) => consumer.For(this, _figures.OpenCursor, _figures.CloseCursor);

    public StageMetricsSnapshot TakeMetricsSnapshot(MetricsCursors consumer)
    {
        long ignored = 0;
        return TakeMetricsSnapshot(consumer, null, ref ignored);
    }

    /// <summary>A snapshot for <paramref name="consumer"/>'s interval (null: the pipeline's own cursor).</summary>
    public StageMetricsSnapshot TakeMetricsSnapshot(MetricsCursors? consumer, long[]? endToEnd, ref long endToEndSum) =>
        _figures.TakeSnapshot(consumer?.For(this, _figures.OpenCursor, _figures.CloseCursor) ?? _ownCursor, _readCounts, endToEnd, ref endToEndSum);

    /// <summary>Takes the node off the meter (its final figures stay for a collection in progress, as a stage's do).</summary>
    public void Unregister() => _meter.Unregister(this);
}
