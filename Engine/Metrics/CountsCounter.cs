
namespace Engine.Metrics;

/// <summary>
/// A shard counter of the catalogue whose every series is a figure of <see cref="StageCounts"/>: its
/// definition, and its total over every series read from any counts. A stage's counts are its shards'
/// summed, so <see cref="Total"/> of a stage's counts is the stage's total, as the console shows it.
/// </summary>
internal sealed class CountsCounter
{
    private readonly Func<StageCounts, long>[] _series;

    public CountsCounter(MetricDefinition<ShardMetricsSnapshot, LiveShard> definition, Func<StageCounts, long>[] series)
    {
        Definition = definition;
        _series = series;
    }

    /// <summary>The catalogue entry.</summary>
    public MetricDefinition<ShardMetricsSnapshot, LiveShard> Definition { get; }

    /// <summary>The count over every series (every reason) in <paramref name="counts"/>.</summary>
    public long Total(StageCounts counts)
    {
        long total = 0;
        foreach (Func<StageCounts, long> series in _series)
        {
            total += series(counts);
        }

        return total;
    }
}
