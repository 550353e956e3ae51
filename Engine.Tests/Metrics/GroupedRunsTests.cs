using Engine.Metrics;
using Engine.Shards;

namespace Engine.Tests.Metrics;

/// <summary>How <see cref="ShardMetrics"/> records runs a loop timed together (see <see cref="RunTiming"/>).</summary>
public class GroupedRunsTests
{
    /// <summary>One tick a microsecond, so ticks read as the histogram's microseconds.</summary>
    private const long Frequency = 1_000_000;

    private static ShardMetrics Create() => new(workers: 1, endToEnd: false, kinds: null, startTimestamp: 0, timestampFrequency: Frequency, tags: [], meter: EngineMeter.Default);

    [Test]
    public void A_group_faster_than_the_resolution_records_each_run_exactly_and_its_span_as_busy_time()
    {
        ShardMetrics metrics = Create();
        ShardWorker worker = metrics.ClaimWorker();
        metrics.RunStarted(worker, 100, -1);
        metrics.RunsEnded(worker, 100, 100, RunTiming.GroupSize);

        var taken = new HistogramInterval();
        metrics.WorkDuration.Take(new HistogramCursor(), taken);
        long[] counts = taken.Buckets;
        long sum = taken.Sum;
        Assert.Multiple(() =>
        {
            Assert.That(counts[0], Is.EqualTo(RunTiming.GroupSize), "every run in the first bucket, as one-by-one timing would put it");
            Assert.That(counts.Sum(), Is.EqualTo(RunTiming.GroupSize));
            Assert.That(sum, Is.Zero);
        });
    }

    [Test]
    public void A_slower_group_keeps_count_and_sum_exact_and_never_understates_the_maximum()
    {
        ShardMetrics metrics = Create();
        ShardWorker worker = metrics.ClaimWorker();
        metrics.RunStarted(worker, 200, -1);
        metrics.RunsEnded(worker, 200, 210, RunTiming.GroupSize);

        var taken = new HistogramInterval();
        metrics.WorkDuration.Take(new HistogramCursor(), taken);
        long[] counts = taken.Buckets;
        long sum = taken.Sum;
        Assert.Multiple(() =>
        {
            Assert.That(counts.Sum(), Is.EqualTo(RunTiming.GroupSize), "one record per run");
            Assert.That(sum, Is.EqualTo(10), "the group's span");
            Assert.That(counts[LatencyHistogram.BucketOf(10)], Is.EqualTo(1), "the span as one run: whichever run was slow, none was slower");
            Assert.That(counts[0], Is.EqualTo(RunTiming.GroupSize - 1));
            Assert.That(metrics.BusySeconds(210), Is.EqualTo(10.0 / Frequency).Within(1e-12), "busy time is the group's span");
        });
    }
}
