
namespace Engine.Metrics;

/// <summary>
/// Where one consumer of a stage's snapshots left off; a new cursor's first interval starts when the
/// stage started, so a consumer that joins late still sees everything. Each consumer (the stage's own
/// <c>TakeMetricsSnapshot()</c>, every reporter) has its own cursor, so a console reporter flushing
/// every second and an InfluxDB reporter flushing every ten each see whole intervals of their own.
/// Counts, busy time and histograms are cumulative in the shard, so an interval is the difference
/// from the cursor's previous read; the depth peak cannot be differenced, so the stage hands every
/// peak it reads to every open cursor (<see cref="ShardCursor.Peak"/>).
/// </summary>
internal sealed class MetricsCursor
{
    public MetricsCursor(ShardCursor[] shards, long now)
    {
        Shards = shards;
        LastSnapshot = now;
    }

    /// <summary>One per shard, in shard order.</summary>
    public ShardCursor[] Shards { get; }

    /// <summary>When this consumer's previous interval closed (clock ticks).</summary>
    public long LastSnapshot { get; set; }
}

/// <summary>One consumer's previous read of one shard.</summary>
internal sealed class ShardCursor
{
    public StageCounts PreviousCounts;
    public long PreviousBusy;
    public long PreviousSnapshot;

    /// <summary>The most items held at an accept since this consumer's previous snapshot.</summary>
    public long Peak;

    public HistogramCursor? Work;
    public HistogramCursor? Wait;
    public HistogramCursor? EndToEnd;
    public HistogramCursor? BatchSize;
}

/// <summary>
/// One consumer's place in a <see cref="LatencyHistogram"/>: what was recorded since its previous read,
/// handed over by the histogram whenever any consumer reads it (see <see cref="LatencyHistogram.Take"/>).
/// </summary>
internal sealed class HistogramCursor
{
    /// <summary>The histogram this cursor reads, once attached to it; set under its read gate.</summary>
    public LatencyHistogram? Histogram;

    /// <summary>Recorded since this cursor's previous read; under the histogram's read gate.</summary>
    public HistogramInterval Pending { get; } = new();
}
