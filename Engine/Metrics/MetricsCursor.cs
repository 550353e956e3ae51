
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
}

/// <summary>
/// One consumer's previous read of a cumulative histogram, to turn it into interval deltas, and the
/// exact extremes recorded since (handed over by the histogram, see <see cref="LatencyHistogram.TakeExtremes"/>).
/// </summary>
internal sealed class HistogramCursor
{
    private readonly long[] _previous = new long[LatencyHistogram.BucketCount];
    private long _previousSum;

    /// <summary>The histogram this cursor reads, once attached to it; set under its read gate.</summary>
    public LatencyHistogram? Histogram;

    /// <summary>Smallest value recorded since this cursor's previous read (<see cref="long.MaxValue"/>: none); under the histogram's read gate.</summary>
    public long PendingMin = long.MaxValue;

    /// <summary>Largest value recorded since this cursor's previous read (−1: none); under the histogram's read gate.</summary>
    public long PendingMax = -1;

    /// <summary>Writes the counts since the previous read into <paramref name="delta"/>, returns the sum since then, and moves on.</summary>
    public long Take(LatencyHistogram histogram, long[] scratch, long[] delta) => Take(histogram, scratch, delta, out _, out _);

    /// <summary>
    /// As <see cref="Take(LatencyHistogram, long[], long[])"/>, also giving the exact smallest and
    /// largest value recorded since the previous read (<see cref="long.MaxValue"/> and −1 when none).
    /// </summary>
    public long Take(LatencyHistogram histogram, long[] scratch, long[] delta, out long min, out long max)
    {
        // Counts first, extremes after: the order the histogram's recorders rely on.
        long sum = histogram.Read(scratch);
        (min, max) = histogram.TakeExtremes(this);
        for (int i = 0; i < scratch.Length; i++)
        {
            long now = scratch[i];
            delta[i] = Math.Max(0, now - _previous[i]);

            // Never step back: a count read mid-increment is caught up by the next read.
            _previous[i] = Math.Max(_previous[i], now);
        }

        long sumDelta = Math.Max(0, sum - _previousSum);
        _previousSum = Math.Max(_previousSum, sum);
        return sumDelta;
    }
}
