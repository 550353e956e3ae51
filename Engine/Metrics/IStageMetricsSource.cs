using Engine.Stages;

namespace Engine.Metrics;

/// <summary>What the <see cref="EngineMeter"/> reads of a live stage when a listener collects.</summary>
internal interface IStageMetricsSource
{
    string Name { get; }

    string? PipelineName { get; }

    int ShardCount { get; }

    StageCounts GetShardCounts(int shard);

    /// <summary>The shard's cumulative busy time in seconds (0 when metrics are off).</summary>
    double ShardBusySeconds(int shard);
}
