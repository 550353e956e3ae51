namespace Engine.Metrics;

/// <summary>
/// A disposed stage's last figures, read once when it left the meter, so that a collection after the
/// disposal still sees its final counts (see <see cref="EngineMeter.Unregister(IStageMetricsSource)"/>).
/// Immutable; holds no reference to the stage.
/// </summary>
internal sealed class FinalStageFigures : IStageMeterSource
{
    private readonly StageCounts[] _counts;
    private readonly double[] _busySeconds;
    private readonly bool[] _used;

    public FinalStageFigures(IStageMeterSource stage)
    {
        Name = stage.Name;
        PipelineName = stage.PipelineName;
        ShardCount = stage.ShardCount;
        _counts = new StageCounts[ShardCount];
        _busySeconds = new double[ShardCount];
        _used = new bool[ShardCount];
        for (int i = 0; i < ShardCount; i++)
        {
            _counts[i] = stage.GetShardCounts(i);
            _busySeconds[i] = stage.ShardBusySeconds(i);
            _used[i] = stage.ShardUsed(i);
        }
    }

    public string Name { get; }

    public string? PipelineName { get; }

    public int ShardCount { get; }

    public StageCounts GetShardCounts(int shard) => _counts[shard];

    public double ShardBusySeconds(int shard) => _busySeconds[shard];

    public bool ShardUsed(int shard) => _used[shard];
}
