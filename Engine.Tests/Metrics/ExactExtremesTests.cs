using Engine.Metrics;

namespace Engine.Tests.Metrics;

public class ExactExtremesTests
{
    private static LatencySummary Take(LatencyHistogram histogram, HistogramCursor cursor)
    {
        var interval = new HistogramInterval();
        histogram.Take(cursor, interval);
        return LatencySummary.From(interval);
    }

    [TestCase(true)]
    [TestCase(false)]
    public void Min_and_max_are_the_recorded_values_not_their_buckets(bool singleWriter)
    {
        var histogram = new LatencyHistogram(singleWriter);
        foreach (long micros in new long[] { 290_900, 287_100, 286_000, 300_123 })
        {
            histogram.Record(micros);
        }

        LatencySummary summary = Take(histogram, new HistogramCursor());
        Assert.Multiple(() =>
        {
            Assert.That(summary.MinMilliseconds, Is.EqualTo(286.0));
            Assert.That(summary.MaxMilliseconds, Is.EqualTo(300.123));
            Assert.That(summary.MeanMilliseconds, Is.EqualTo(291.03075).Within(1e-9));
            Assert.That(summary.MinMilliseconds, Is.LessThanOrEqualTo(summary.P50));
            Assert.That(summary.P999, Is.LessThanOrEqualTo(summary.MaxMilliseconds), "percentiles are kept within the exact extremes");
        });
    }

    [Test]
    public void Readers_at_different_paces_each_see_the_extremes_of_their_own_intervals()
    {
        var histogram = new LatencyHistogram(singleWriter: true);
        var fast = new HistogramCursor();
        var slow = new HistogramCursor();
        histogram.Attach(fast);
        histogram.Attach(slow);

        histogram.Record(5);
        histogram.Record(900);
        LatencySummary fastFirst = Take(histogram, fast);
        histogram.Record(40);
        LatencySummary fastSecond = Take(histogram, fast);
        LatencySummary slowOnly = Take(histogram, slow);
        LatencySummary fastEmpty = Take(histogram, fast);

        Assert.Multiple(() =>
        {
            Assert.That((fastFirst.MinMilliseconds, fastFirst.MaxMilliseconds), Is.EqualTo((0.005, 0.9)));
            Assert.That((fastSecond.MinMilliseconds, fastSecond.MaxMilliseconds), Is.EqualTo((0.04, 0.04)));
            Assert.That((slowOnly.MinMilliseconds, slowOnly.MaxMilliseconds, slowOnly.Count), Is.EqualTo((0.005, 0.9, 3L)), "the fast reader took nothing from the slow one");
            Assert.That(fastEmpty, Is.EqualTo(LatencySummary.Empty));
        });
    }

    [Test]
    public void A_reader_attached_late_starts_with_every_value_recorded_before()
    {
        var histogram = new LatencyHistogram(singleWriter: false);
        Take(histogram, new HistogramCursor());
        histogram.Record(7_000);
        histogram.Record(3);
        Assert.That(Take(histogram, new HistogramCursor()), Has.Property("MinMilliseconds").EqualTo(0.003).And.Property("MaxMilliseconds").EqualTo(7.0));
    }

    [Test]
    public void Every_bucket_holds_the_values_from_its_low_to_its_high_bound()
    {
        Assert.Multiple(() =>
        {
            Assert.That(LatencyHistogram.BucketOf(long.MinValue), Is.Zero);
            Assert.That(LatencyHistogram.BucketOf(-5), Is.Zero);
            Assert.That(LatencyHistogram.BucketOf(long.MaxValue), Is.EqualTo(LatencyHistogram.BucketCount - 1));
            for (int bucket = 0; bucket < LatencyHistogram.BucketCount; bucket++)
            {
                long low = LatencyHistogram.LowOf(bucket);
                long high = LatencyHistogram.HighOf(bucket);
                Assert.That((LatencyHistogram.BucketOf(low), LatencyHistogram.BucketOf(high)), Is.EqualTo((bucket, bucket)), $"bucket {bucket}: {low}..{high}");
                if (bucket > 0)
                {
                    Assert.That(low, Is.EqualTo(LatencyHistogram.HighOf(bucket - 1) + 1), $"bucket {bucket} starts where {bucket - 1} ends");
                }
            }
        });
    }
}
