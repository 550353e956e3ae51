namespace Engine.Metrics;

/// <summary>
/// What the <see cref="EngineMeter"/> reads of a stage at a collection: a live stage, or the final
/// figures of one disposed since the last collection (<see cref="FinalStageFigures"/>).
/// </summary>
internal interface IStageMeterSource
{
    string Name { get; }

    string? PipelineName { get; }

    int ShardCount { get; }

    StageCounts GetShardCounts(int shard);

    /// <summary>The shard's cumulative busy time in seconds (0 when metrics are off).</summary>
    double ShardBusySeconds(int shard);

    /// <summary>
    /// Whether the shard ever accepted or refused an item. The meter publishes no series for a shard
    /// that has not: its every figure is zero (an unkeyed shard nothing is written to, keyed shards no
    /// key hashed to), and a series per unused shard and instrument only costs the exporter.
    /// </summary>
    bool ShardUsed(int shard);
}
