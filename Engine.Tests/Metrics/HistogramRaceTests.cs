using Engine.Metrics;
using Engine.Shards;

namespace Engine.Tests.Metrics;

/// <summary>
/// Snapshots taken while values are recorded: every interval's count, sum, mean, extremes, last value
/// and percentiles describe the same samples, and no sample is lost or counted twice.
/// </summary>
public class HistogramRaceTests
{
    /// <summary>One tick a microsecond, so ticks read as the histogram's microseconds.</summary>
    private const long Frequency = 1_000_000;

    private static ShardMetrics Create(int workers) => new(workers, endToEnd: false, kinds: null, startTimestamp: 0, timestampFrequency: Frequency, tags: [], meter: EngineMeter.Default);

    private static LatencySummary Snapshot(ShardMetrics metrics, ShardCursor cursor)
    {
        var work = new long[LatencyHistogram.BucketCount];
        var wait = new long[LatencyHistogram.BucketCount];
        var endToEnd = new long[LatencyHistogram.BucketCount];
        return metrics.Snapshot(0, default, 0, cursor, work, wait, endToEnd, out _, out _, out _).WorkDuration;
    }

    /// <summary>Records runs of <paramref name="durations"/> microseconds on a worker of its own, one after the other.</summary>
    private static void RecordRuns(ShardMetrics metrics, IEnumerable<long> durations)
    {
        ShardWorker worker = metrics.ClaimWorker();
        long now = 1;
        foreach (long duration in durations)
        {
            metrics.RunStarted(worker, now, -1);
            metrics.RunEnded(worker, now, now + duration);
            now += duration;
        }

        worker.Release();
    }

    /// <summary>Snapshots from <paramref name="start"/> until <paramref name="recording"/> ends, then once more; every interval's summary.</summary>
    private static async Task<List<LatencySummary>> SnapshotWhileAsync(ShardMetrics metrics, Barrier start, Task recording)
    {
        ShardCursor cursor = metrics.OpenCursor();
        var intervals = new List<LatencySummary>();
        await Task.Run(() =>
        {
            start.SignalAndWait();
            while (!recording.IsCompleted)
            {
                intervals.Add(Snapshot(metrics, cursor));
            }
        });

        await recording;
        intervals.Add(Snapshot(metrics, cursor));
        return intervals;
    }

    /// <summary>
    /// One writer records 1, 2, 3, … µs: each interval then holds a run of consecutive values, so its
    /// count, sum, min, max and last are known exactly from where the previous interval ended.
    /// </summary>
    [Test]
    public async Task With_one_writer_every_interval_holds_exactly_the_values_recorded_in_it()
    {
        const long Values = 300_000;
        ShardMetrics metrics = Create(workers: 1);
        using var start = new Barrier(2);
        Task recording = Task.Run(() =>
        {
            start.SignalAndWait();
            RecordRuns(metrics, LongRange(1, Values));
        });
        Task<List<LatencySummary>> snapshots = SnapshotWhileAsync(metrics, start, recording);

        long next = 1;
        int taken = 0;
        foreach (LatencySummary interval in await snapshots)
        {
            taken++;
            if (interval.Count == 0)
            {
                Assert.That(interval, Is.EqualTo(LatencySummary.Empty), $"interval {taken}");
                continue;
            }

            long first = next;
            long last = next + interval.Count - 1;
            var expected = (Count: interval.Count, Sum: (first + last) * interval.Count / 2 / 1000.0, Min: first / 1000.0, Max: last / 1000.0, Last: last / 1000.0);
            Assert.That((interval.Count, interval.SumMilliseconds, interval.MinMilliseconds, interval.MaxMilliseconds, interval.LastMilliseconds), Is.EqualTo(expected), $"interval {taken} should hold {first}..{last} µs");
            next = last + 1;
        }

        Assert.That(next - 1, Is.EqualTo(Values), $"every value in exactly one of {taken} intervals");
    }

    /// <summary>
    /// Two writers on one histogram (a shard with several workers), values spread over five orders of
    /// magnitude: in every interval min ≤ p50 ≤ … ≤ max, min ≤ mean ≤ max and min ≤ last ≤ max, and
    /// over all intervals the counts and sums add up to what was recorded.
    /// </summary>
    [Test]
    public async Task With_several_writers_every_interval_is_consistent_and_nothing_is_lost([Values(21, 22)] int seed)
    {
        const int PerWriter = 150_000;
        ShardMetrics metrics = Create(workers: 4);
        long[][] durations = [.. Enumerable.Range(0, 2).Select(w =>
        {
            var random = new Random((seed * 10) + w);
            return Enumerable.Range(0, PerWriter).Select(_ => (long)Math.Exp(random.NextDouble() * Math.Log(100_000))).ToArray();
        })];
        using var start = new Barrier(3);
        Task recording = Task.WhenAll(durations.Select(d => Task.Run(() =>
        {
            start.SignalAndWait();
            RecordRuns(metrics, d);
        })));

        List<LatencySummary> intervals = await SnapshotWhileAsync(metrics, start, recording);
        long count = 0;
        long sumMicros = 0;
        for (int i = 0; i < intervals.Count; i++)
        {
            LatencySummary s = intervals[i];
            count += s.Count;
            sumMicros += (long)Math.Round(s.SumMilliseconds * 1000);
            if (s.Count == 0)
            {
                Assert.That(s, Is.EqualTo(LatencySummary.Empty), $"seed {seed}, interval {i}");
                continue;
            }

            double[] ordered = [s.MinMilliseconds, s.P50, s.P75, s.P95, s.P98, s.P99, s.P999, s.MaxMilliseconds];
            Assert.Multiple(() =>
            {
                Assert.That(ordered, Is.Ordered, $"seed {seed}, interval {i}: {s}");
                Assert.That(s.MeanMilliseconds, Is.InRange(s.MinMilliseconds, s.MaxMilliseconds), $"seed {seed}, interval {i}: {s}");
                Assert.That(s.LastMilliseconds, Is.InRange(s.MinMilliseconds, s.MaxMilliseconds), $"seed {seed}, interval {i}: {s}");
            });
        }

        Assert.That((count, sumMicros), Is.EqualTo(((long)durations.Sum(d => d.Length), durations.Sum(d => d.Sum()))), $"over {intervals.Count} intervals");
    }

    private static IEnumerable<long> LongRange(long from, long count)
    {
        for (long i = 0; i < count; i++)
        {
            yield return from + i;
        }
    }
}
