using Engine.Limiters;
using Engine.Metrics;
using Engine.Reporting;
using Engine.Routing;
using Engine.Stages;
using Engine.Tests.Support;

namespace Engine.Tests.Metrics;

/// <summary>Figures a review found wrong in an earlier shape of the metrics.</summary>
public class MetricsRegressionTests
{
    [Test]
    public async Task The_depth_peak_ignores_refused_writes()
    {
        var gate = new Gate();
        await using Stage<int> stage = Stage.Create(
            new StageOptions<int> { Name = "peak", Shards = 1, KeySelector = i => "k" + i, Capacity = 2, FullMode = StageFullMode.Reject },
            async (_, ct) => await gate.PassAsync(ct));
        await stage.WriteAsync(0);
        await gate.StartedAsync();
        await stage.WriteAsync(1);
        await stage.WriteAsync(2);
        stage.TakeMetricsSnapshot();
        Assert.That(stage.TryWrite(3), Is.False);
        Assert.That(stage.TryWrite(4), Is.False);
        StageMetricsSnapshot snapshot = stage.TakeMetricsSnapshot();
        gate.Open();
        Assert.That(snapshot.Shards[0].DepthPeak, Is.EqualTo(3), "1 in flight and 2 waiting is the most it held");
    }

    [Test]
    public async Task The_depth_peak_ignores_writers_still_waiting_for_room()
    {
        var gate = new Gate();
        await using Stage<int> stage = Stage.Create(
            new StageOptions<int> { Name = "peak-wait", Shards = 1, KeySelector = i => "k" + i, Capacity = 1 },
            async (_, ct) => await gate.PassAsync(ct));
        await stage.WriteAsync(0);
        await gate.StartedAsync();
        await stage.WriteAsync(1);
        stage.TakeMetricsSnapshot();
        var blocked = Enumerable.Range(2, 4).Select(i => stage.WriteAsync(i)).ToList();
        Assert.That(blocked.All(w => !w.IsCompleted), Is.True, "the writes wait for room");
        StageMetricsSnapshot snapshot = stage.TakeMetricsSnapshot();
        gate.Open();
        foreach (ValueTask write in blocked)
        {
            await write.Within();
        }

        Assert.That(snapshot.Shards[0].DepthPeak, Is.EqualTo(2));
    }

    [Test]
    public async Task Queue_wait_counts_from_the_write_including_time_the_writer_waited_for_room()
    {
        var time = new WatchedTimeProvider();
        var gate = new Gate();
        await using Stage<int> stage = Stage.Create(
            new StageOptions<int> { Name = "wait", Shards = 1, KeySelector = _ => "one", Capacity = 1, TimeProvider = time, LatencySampling = 1 },
            async (i, ct) => { if (i == 0) { await gate.PassAsync(ct); } });
        await stage.WriteAsync(0);
        await gate.StartedAsync();
        await stage.WriteAsync(1);
        ValueTask blocked = stage.WriteAsync(2);
        time.Advance(TimeSpan.FromSeconds(10));
        gate.Open();
        await blocked.Within();
        await stage.StopAsync(Timeout.InfiniteTimeSpan).Within();
        StageMetricsSnapshot snapshot = stage.TakeMetricsSnapshot();
        Assert.Multiple(() =>
        {
            Assert.That(snapshot.QueueWait.Count, Is.EqualTo(3));
            Assert.That(snapshot.QueueWait.P50, Is.EqualTo(10_000).Within(10_000 * 0.035), "items 1 and 2 were written 10 s before they started");
        });
    }

    [Test]
    public async Task A_stage_s_last_sample_is_the_newest_over_its_shards()
    {
        var time = new WatchedTimeProvider();
        var done = new SemaphoreSlim(0);
        await using Stage<int> stage = Stage.Create(
            new StageOptions<int> { Name = "last", Shards = 1, KeySelector = i => i < 0 ? ItemKey.None : "k", TimeProvider = time },
            (int i, CancellationToken _) => { time.Advance(TimeSpan.FromMilliseconds(Math.Abs(i))); done.Release(); });
        await stage.WriteAsync(-5);
        Assert.That(await done.WaitAsync(TestWait.Patience), Is.True);
        await stage.WriteAsync(1);
        await stage.StopAsync(Timeout.InfiniteTimeSpan).Within();
        StageMetricsSnapshot snapshot = stage.TakeMetricsSnapshot();
        Assert.That(snapshot.WorkDuration.LastMilliseconds, Is.EqualTo(1), "the 1 ms run on the keyed shard came after the 5 ms one on the unkeyed shard");
    }

    [Test]
    public async Task With_two_workers_and_one_busy_a_shard_is_half_utilised()
    {
        var time = new WatchedTimeProvider();
        var gate = new Gate();
        await using Stage<int> stage = Stage.Create(
            new StageOptions<int> { Name = "half", Shards = 1, WorkersPerShard = 2, KeySelector = i => "k" + i, TimeProvider = time },
            async (_, ct) => await gate.PassAsync(ct));
        stage.TakeMetricsSnapshot();
        await stage.WriteAsync(0);
        await gate.StartedAsync();
        time.Advance(TimeSpan.FromSeconds(10));
        StageMetricsSnapshot snapshot = stage.TakeMetricsSnapshot();
        gate.Open();
        Assert.That(snapshot.Shards[0].Utilization, Is.EqualTo(0.5));
    }

    [Test]
    public async Task A_lease_gives_its_slot_back_once_however_often_it_is_disposed()
    {
        using ConcurrencyLimiter limiter = ConcurrencyLimiter.Create(new ConcurrencyLimiterOptions { Name = "once", MaxConcurrency = 2 });
        ConcurrencyLimiter.Lease held = await limiter.AcquireAsync();
        ConcurrencyLimiter.Lease lease = await limiter.AcquireAsync();
        ConcurrencyLimiter.Lease alias = lease;
        alias.Dispose();
        lease.Dispose();
        Assert.That(limiter.Held, Is.EqualTo(1));
        held.Dispose();
        Assert.That(async () => await limiter.AcquireAsync(new CancellationToken(canceled: true)), Throws.InstanceOf<OperationCanceledException>());
    }

    [Test]
    public void A_trailing_backslash_cannot_escape_the_separator_after_it()
    {
        var writer = new LineProtocolWriter();
        writer.Write("m", [new("stage", @"C:\"), new("shard", "0")], [new("value", 1L), new("text", "a\nb")], 1);
        Assert.That(writer.ToString(), Is.EqualTo("m,stage=C:,shard=0 value=1i,text=\"a b\" 1\n"));
    }

    [Test]
    public void Histogram_buckets_hold_every_value_within_three_percent()
    {
        foreach (long value in new long[] { 0, 1, 31, 32, 33, 63, 64, 65, 1000, 1_000_000, (1L << 41) - 1, 1L << 41, long.MaxValue, -5 })
        {
            int bucket = LatencyHistogram.BucketOf(value);
            Assert.That(bucket, Is.InRange(0, LatencyHistogram.BucketCount - 1), value.ToString());
            if (value > 0 && value < (1L << 41))
            {
                Assert.That(Math.Abs(LatencyHistogram.ValueOf(bucket) - value) / value, Is.LessThanOrEqualTo(0.032), value.ToString());
            }
        }
    }
}
