using Engine.Metrics;
using Engine.Pipelines;
using Engine.Stages;
using Engine.Tests.Support;

namespace Engine.Tests.Metrics;

/// <summary>Each figure against a workload whose timing a fake clock imposes.</summary>
public class StageMetricsTests
{
    private const double Tolerance = 0.035; // the histogram knows a value within about 3%

    private static Stage<int> GatedStage(WatchedTimeProvider time, Gate gate, Action<StageOptions<int>>? configure = null)
    {
        var options = new StageOptions<int> { Name = "metered", Shards = 1, KeySelector = i => i, TimeProvider = time };
        configure?.Invoke(options);
        return Stage.Create(options, async (i, ct) => { if (i == 0) { await gate.PassAsync(ct); } });
    }

    [Test]
    public async Task A_stage_s_min_and_max_are_its_shards_recorded_values_not_their_buckets()
    {
        // Each run lasts exactly its milliseconds on the fake clock; the two land in different shards.
        var time = new WatchedTimeProvider();
        double[] runs = [0.5, 290.816];
        await using var stage = Stage.Create(
            new StageOptions<int> { Name = "merged", Shards = 2, KeySelector = i => i == 0 ? "a" : "b", TimeProvider = time },
            (int i, CancellationToken _) => time.Advance(TimeSpan.FromTicks((long)Math.Round(runs[i] * TimeSpan.TicksPerMillisecond))));
        Assume.That(stage.ShardOf("a"), Is.Not.EqualTo(stage.ShardOf("b")), "the two keys share a shard");
        for (int i = 0; i < runs.Length; i++)
        {
            await stage.WriteAsync(i);
            await TestWait.UntilAsync(() => stage.GetCounts().Processed == i + 1, "the run processed");
        }

        StageMetricsSnapshot snapshot = stage.TakeMetricsSnapshot();
        Assert.Multiple(() =>
        {
            Assert.That(snapshot.WorkDuration.MinMilliseconds, Is.EqualTo(0.5));
            Assert.That(snapshot.WorkDuration.MaxMilliseconds, Is.EqualTo(290.816));
            Assert.That(snapshot.WorkDuration.LastMilliseconds, Is.EqualTo(290.816));
        });
    }

    [Test]
    public async Task A_worker_blocked_for_a_whole_interval_is_fully_utilised_and_an_idle_one_not_at_all()
    {
        var time = new WatchedTimeProvider();
        var gate = new Gate();
        await using Stage<int> stage = GatedStage(time, gate);
        stage.TakeMetricsSnapshot();
        await stage.WriteAsync(0);
        await gate.StartedAsync();
        time.Advance(TimeSpan.FromSeconds(10));

        StageMetricsSnapshot busy = stage.TakeMetricsSnapshot();
        Assert.Multiple(() =>
        {
            Assert.That(busy.Interval, Is.EqualTo(TimeSpan.FromSeconds(10)));
            Assert.That(busy.Shards[0].Utilization, Is.EqualTo(1.0));
            Assert.That(busy.Shards[1].Utilization, Is.EqualTo(0.0), "the unkeyed shard did nothing");
            Assert.That(busy.Shards[0].LongestRunning, Is.EqualTo(TimeSpan.FromSeconds(10)));
            Assert.That(busy.Shards[0].UnfinishedWork, Is.EqualTo(TimeSpan.FromSeconds(10)));
            Assert.That(busy.Shards[0].BusyTime, Is.EqualTo(TimeSpan.FromSeconds(10)));
            Assert.That(busy.Shards[0].Interval, Is.EqualTo(TimeSpan.FromSeconds(10)));
        });

        gate.Open();
        await stage.StopAsync(Timeout.InfiniteTimeSpan).Within();
        time.Advance(TimeSpan.FromSeconds(10));
        StageMetricsSnapshot idle = stage.TakeMetricsSnapshot();
        Assert.Multiple(() =>
        {
            Assert.That(idle.Shards[0].Utilization, Is.EqualTo(0.0));
            Assert.That(idle.Shards[0].LongestRunning, Is.EqualTo(TimeSpan.Zero));
            Assert.That(idle.Shards[0].BusyTime, Is.EqualTo(TimeSpan.FromSeconds(10)), "busy time is cumulative");
            Assert.That(idle.WorkDuration.Count, Is.EqualTo(1));
            Assert.That(idle.WorkDuration.P50, Is.EqualTo(10_000).Within(Tolerance).Percent.Or.EqualTo(10_000).Within(10_000 * Tolerance));
        });
    }

    [Test]
    public async Task Queue_wait_and_work_duration_see_the_durations_the_clock_imposed()
    {
        var time = new WatchedTimeProvider();
        var gate = new Gate();
        await using Stage<int> stage = GatedStage(time, gate, o =>
        {
            o.KeySelector = _ => "one";
            o.LatencySampling = 1;
        });
        await stage.WriteAsync(0);
        await gate.StartedAsync();
        await stage.WriteAsync(1);
        time.Advance(TimeSpan.FromMilliseconds(500));
        gate.Open();
        await stage.StopAsync(Timeout.InfiniteTimeSpan).Within();

        StageMetricsSnapshot snapshot = stage.TakeMetricsSnapshot();
        Assert.Multiple(() =>
        {
            Assert.That(snapshot.QueueWait.Count, Is.EqualTo(2));
            Assert.That(snapshot.QueueWait.MaxMilliseconds, Is.EqualTo(500).Within(500 * Tolerance), "item 1 waited behind item 0");
            Assert.That(snapshot.QueueWait.MinMilliseconds, Is.EqualTo(0));
            Assert.That(snapshot.WorkDuration.Count, Is.EqualTo(2));
            Assert.That(snapshot.WorkDuration.MaxMilliseconds, Is.EqualTo(500).Within(500 * Tolerance), "item 0 ran for the 500 ms the clock moved");
            Assert.That(snapshot.WorkDuration.SumMilliseconds, Is.EqualTo(500).Within(0.001));
        });
    }

    [Test]
    public async Task Depth_is_what_was_written_and_not_taken_and_the_peak_includes_the_item_in_flight()
    {
        var time = new WatchedTimeProvider();
        var gate = new Gate();
        await using Stage<int> stage = GatedStage(time, gate, o => o.KeySelector = _ => "one");
        await stage.WriteAsync(0);
        await gate.StartedAsync();
        for (int i = 1; i <= 5; i++)
        {
            await stage.WriteAsync(i);
        }

        StageMetricsSnapshot snapshot = stage.TakeMetricsSnapshot();
        Assert.Multiple(() =>
        {
            Assert.That(snapshot.Depth, Is.EqualTo(5));
            Assert.That(snapshot.MaxShardDepth, Is.EqualTo(5));
            Assert.That(snapshot.Shards[0].DepthPeak, Is.EqualTo(6));
            Assert.That(snapshot.Counts.InFlight, Is.EqualTo(1));
        });
        gate.Open();
        await stage.StopAsync(Timeout.InfiniteTimeSpan).Within();
        time.Advance(TimeSpan.FromSeconds(2));
        StageMetricsSnapshot after = stage.TakeMetricsSnapshot();
        Assert.Multiple(() =>
        {
            Assert.That(after.Depth, Is.Zero);
            Assert.That(after.IntervalCounts.Processed, Is.EqualTo(6));
            Assert.That(after.Shards[0].ProcessedPerSecond, Is.EqualTo(3.0), "6 runs over the 2 s interval");
            Assert.That(after.ProcessedPerSecond, Is.EqualTo(3.0));
            Assert.That(after.Counts.IsConserved, Is.True);
        });
    }

    [Test]
    public async Task Interval_counts_add_up_to_the_cumulative_counts()
    {
        await using var stage = Stage.Create(new StageOptions<int> { Name = "intervals", KeySelector = i => i }, (int i, CancellationToken _) => { if (i % 5 == 0) { throw new InvalidOperationException(); } });
        long processed = 0;
        long dead = 0;
        for (int round = 0; round < 4; round++)
        {
            for (int i = 0; i < 50; i++)
            {
                await stage.WriteAsync((round * 50) + i);
            }

            StageMetricsSnapshot snapshot = stage.TakeMetricsSnapshot();
            processed += snapshot.IntervalCounts.Processed;
            dead += snapshot.IntervalCounts.DeadLettered;
        }

        await stage.StopAsync(Timeout.InfiniteTimeSpan).Within();
        StageMetricsSnapshot last = stage.TakeMetricsSnapshot();
        processed += last.IntervalCounts.Processed;
        dead += last.IntervalCounts.DeadLettered;
        Assert.Multiple(() =>
        {
            Assert.That(processed, Is.EqualTo(160));
            Assert.That(dead, Is.EqualTo(40));
            Assert.That(last.Counts.Processed + last.Counts.DeadLettered, Is.EqualTo(last.Counts.Accepted));
        });
    }

    [Test]
    public async Task The_kind_dimension_is_capped_and_the_rest_counts_as_other()
    {
        await using var stage = Stage.Create(
            new StageOptions<string> { Name = "kinds", Shards = 1, KeySelector = _ => "one", KindSelector = s => s.Split('/')[0], MaxKinds = 2 },
            (string s, CancellationToken _) => { if (s.EndsWith('!')) { throw new InvalidOperationException(); } });
        foreach (string item in new[] { "pod/1", "pod/2", "node/1", "node/2!", "svc/1", "job/1", "job/2!" })
        {
            await stage.WriteAsync(item);
        }

        await stage.StopAsync(Timeout.InfiniteTimeSpan).Within();
        IReadOnlyList<KindMetrics> kinds = stage.TakeMetricsSnapshot().Kinds;
        Assert.Multiple(() =>
        {
            Assert.That(kinds.Select(k => k.Kind), Is.EquivalentTo(new[] { "other", "pod", "node" }));
            Assert.That(kinds.Single(k => k.Kind == "pod").Processed, Is.EqualTo(2));
            Assert.That(kinds.Single(k => k.Kind == "node"), Is.EqualTo(new KindMetrics("node", 1, 1, 1)));
            Assert.That(kinds.Single(k => k.Kind == "other"), Is.EqualTo(new KindMetrics("other", 2, 1, 1)));
        });
    }

    [Test]
    public async Task With_metrics_off_only_counts_are_kept()
    {
        await using var stage = Stage.Create(new StageOptions<int> { Name = "off", Metrics = false }, (int _, CancellationToken _) => { });
        await stage.WriteAsync(1);
        await stage.StopAsync(Timeout.InfiniteTimeSpan).Within();
        StageMetricsSnapshot snapshot = stage.TakeMetricsSnapshot();
        Assert.Multiple(() =>
        {
            Assert.That(snapshot.Counts.Processed, Is.EqualTo(1));
            Assert.That(snapshot.WorkDuration.Count, Is.Zero);
            Assert.That(snapshot.QueueWait.Count, Is.Zero);
        });
    }

    [Test]
    public async Task End_to_end_latency_spans_every_stage_of_the_pipeline()
    {
        var time = new WatchedTimeProvider();
        var gate = new Gate();
        await using Pipeline<int> pipeline = Pipeline.Create<int>("e2e", time)
            .Then<int>("first", async (i, ct) => { await gate.PassAsync(ct); return i; })
            .Then<int>("second", (i, _) => ValueTask.FromResult(i))
            .Sink("last", (_, _) => default)
            .Build();

        await pipeline.WriteAsync(1);
        await gate.StartedAsync();
        time.Advance(TimeSpan.FromSeconds(3));
        gate.Open();
        await pipeline.CompleteAsync().Within();

        PipelineMetricsSnapshot snapshot = pipeline.TakeMetricsSnapshot();
        Assert.Multiple(() =>
        {
            Assert.That(snapshot.EndToEnd.Count, Is.EqualTo(1));
            Assert.That(snapshot.EndToEnd.P99, Is.EqualTo(3000).Within(3000 * Tolerance));
            Assert.That(snapshot.Stages.Single(s => s.Stage == "last").EndToEnd!.Count, Is.EqualTo(1));
            Assert.That(snapshot.Stages.Single(s => s.Stage == "first").EndToEnd, Is.Null, "only sinks record end-to-end latency");
            Assert.That(snapshot.Stages.All(s => s.Pipeline == "e2e"), Is.True);
        });
    }
}

public class PipelineMetricsSwitchTests
{
    [Test]
    public async Task Metrics_can_be_switched_off_for_a_whole_pipeline()
    {
        await using Pipeline<int> pipeline = Pipeline.Create<int>("quiet", metrics: false)
            .Then<int>("a", (i, _) => ValueTask.FromResult(i))
            .Sink("b", (_, _) => default)
            .Build();
        await pipeline.WriteAsync(1);
        await pipeline.CompleteAsync().Within();
        PipelineMetricsSnapshot snapshot = pipeline.TakeMetricsSnapshot();
        Assert.Multiple(() =>
        {
            Assert.That(snapshot.Stages.Sum(s => s.Counts.Processed), Is.EqualTo(2), "counts are always kept");
            Assert.That(snapshot.Stages.Sum(s => s.WorkDuration.Count), Is.Zero);
            Assert.That(snapshot.EndToEnd.Count, Is.Zero);
        });
    }
}
