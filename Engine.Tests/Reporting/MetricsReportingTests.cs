using Engine.Reporting;
using Engine.Stages;
using Engine.Tests.Support;
using Microsoft.Extensions.Logging;

namespace Engine.Tests.Reporting;

public class MetricsReportingTests
{
    private static readonly GlobalTags Tags = new("tests", "test", "h1");

    private static Stage<int> CreateStage(TimeProvider time) =>
        Stage.Create(new StageOptions<int> { Name = "work", Shards = 2, KeySelector = i => (i % 7).ToString(), TimeProvider = time }, (int _, CancellationToken _) => { });

    private static async Task WriteAndSettleAsync(Stage<int> stage, int from, int count)
    {
        long before = stage.GetCounts().Processed;
        for (int i = from; i < from + count; i++)
        {
            await stage.WriteAsync(i);
        }

        await TestWait.UntilAsync(() => stage.GetCounts().Processed == before + count, $"{count} more items processed");
    }

    [Test]
    public async Task Each_reporter_flushes_on_its_own_interval_and_sees_whole_intervals_of_its_own()
    {
        var time = new WatchedTimeProvider();
        await using Stage<int> stage = CreateStage(time);
        var fast = new RecordingReporter("fast", TimeSpan.FromSeconds(1));
        var slow = new RecordingReporter("slow", TimeSpan.FromSeconds(3));
        await using var reporting = MetricsReporting.Create(new MetricsReportingOptions { TimeProvider = time, Tags = Tags, FlushOnStop = false })
            .Add(stage).AddReporter(fast).AddReporter(slow);
        reporting.Start();

        var fastProcessed = new List<long>();
        for (int second = 1; second <= 3; second++)
        {
            await WriteAndSettleAsync(stage, second * 100, second * 10);

            // Snapshots taken by someone else must not take figures away from the reporters.
            _ = stage.TakeMetricsSnapshot();
            time.Advance(TimeSpan.FromSeconds(1));
            MetricsReport report = await fast.NextAsync();
            fastProcessed.Add(report.Stages.Single().IntervalCounts.Processed);
            Assert.That(report.Interval, Is.EqualTo(TimeSpan.FromSeconds(1)));
        }

        MetricsReport slowReport = await slow.NextAsync();
        Assert.Multiple(() =>
        {
            Assert.That(fastProcessed, Is.EqualTo(new long[] { 10, 20, 30 }));
            Assert.That(slowReport.Stages.Single().IntervalCounts.Processed, Is.EqualTo(60));
            Assert.That(slowReport.Stages.Single().Interval, Is.EqualTo(TimeSpan.FromSeconds(3)));
            Assert.That(slowReport.Interval, Is.EqualTo(TimeSpan.FromSeconds(3)));
            Assert.That(slowReport.Tags, Is.EqualTo(Tags));
            Assert.That(slowReport.Reporters.Select(r => r.Reporter), Is.EqualTo(new[] { "fast", "slow" }));
            Assert.That(slow.TryNext(out _), Is.False, "the slow reporter flushed once in 3 s");
        });
    }

    [Test]
    public async Task Every_consumer_sees_the_depth_peak_of_its_own_interval()
    {
        var time = new WatchedTimeProvider();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var stage = Stage.Create(
            new StageOptions<int> { Name = "held", Shards = 1, KeySelector = i => i.ToString(), TimeProvider = time },
            async (int _, CancellationToken _) => await gate.Task);
        var reporter = new RecordingReporter("r", TimeSpan.FromSeconds(1));
        await using var reporting = MetricsReporting.Create(new MetricsReportingOptions { TimeProvider = time, Tags = Tags, FlushOnStop = false }).Add(stage).AddReporter(reporter);
        reporting.Start();
        for (int i = 0; i < 5; i++)
        {
            await stage.WriteAsync(i);
        }

        gate.SetResult();
        await TestWait.UntilAsync(() => stage.GetCounts().Processed == 5, "all processed");

        // The stage's own snapshot reads (and resets) the shard's peak first; the reporter still gets it.
        Assert.That(stage.TakeMetricsSnapshot().Shards[0].DepthPeak, Is.EqualTo(5));
        time.Advance(TimeSpan.FromSeconds(1));
        MetricsReport report = await reporter.NextAsync();
        Assert.That(report.Stages.Single().Shards[0].DepthPeak, Is.EqualTo(5));
    }

    [Test]
    public async Task A_hung_reporter_is_cancelled_and_abandoned_after_the_flush_timeout_and_never_delays_another()
    {
        var time = new WatchedTimeProvider();
        await using Stage<int> stage = CreateStage(time);
        var hung = new RecordingReporter("hung", TimeSpan.FromSeconds(1)) { Hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) };
        var healthy = new RecordingReporter("healthy", TimeSpan.FromSeconds(1));
        var logger = new ListLogger();
        await using var reporting = MetricsReporting.Create(new MetricsReportingOptions { TimeProvider = time, Tags = Tags, Logger = logger, FlushTimeout = TimeSpan.FromSeconds(3), FlushOnStop = false })
            .Add(stage).AddReporter(hung).AddReporter(healthy);
        reporting.Start();

        Task hungStarted = hung.Started.Task;
        time.Advance(TimeSpan.FromSeconds(1));
        await hungStarted.Within();
        await healthy.NextAsync();
        for (int second = 2; second <= 6; second++)
        {
            await WriteAndSettleAsync(stage, second * 100, 3);
            time.Advance(TimeSpan.FromSeconds(1));
            MetricsReport report = await healthy.NextAsync();
            Assert.That(report.Stages.Single().IntervalCounts.Processed, Is.EqualTo(3), "the healthy reporter keeps its own whole intervals");
        }

        await hung.Cancelled.Task.Within();
        await TestWait.UntilAsync(() => reporting.GetStatus()[0].Skipped >= 1, "a flush of the hung reporter skipped because the abandoned one still runs");
        ReporterStatus status = reporting.GetStatus()[0];
        Assert.Multiple(() =>
        {
            Assert.That(status.TimedOut, Is.EqualTo(1));
            Assert.That(status.Failed, Is.EqualTo(1));
            Assert.That(status.Succeeded, Is.Zero);
            Assert.That(hung.MaxConcurrent, Is.EqualTo(1), "flushes never overlap");
            Assert.That(reporting.GetStatus()[1].Failed, Is.Zero);
            Assert.That(logger.Entries.Any(e => e.Level == LogLevel.Warning && e.Message.Contains("'hung' did not flush within", StringComparison.Ordinal)), Is.True);
        });

        // Once it ends, the next tick flushes it again.
        hung.Hold.SetResult();
        hung.Hold = null;
        time.Advance(TimeSpan.FromSeconds(1));
        await hung.NextAsync();
    }

    [Test]
    public async Task A_throwing_reporter_is_logged_and_counted_and_keeps_its_schedule()
    {
        var time = new WatchedTimeProvider();
        var failing = new RecordingReporter("failing", TimeSpan.FromSeconds(1)) { Throw = new InvalidOperationException("backend down") };
        var logger = new ListLogger();
        await using var reporting = MetricsReporting.Create(new MetricsReportingOptions { TimeProvider = time, Tags = Tags, Logger = logger, FlushOnStop = false }).AddReporter(failing);
        reporting.Start();
        for (int i = 1; i <= 2; i++)
        {
            Task started = failing.Started.Task;
            time.Advance(TimeSpan.FromSeconds(1));
            await started.Within();
            await TestWait.UntilAsync(() => reporting.GetStatus()[0].Failed == i, $"{i} failed flushes counted");
        }

        failing.Throw = null;
        time.Advance(TimeSpan.FromSeconds(1));
        MetricsReport report = await failing.NextAsync();
        Assert.Multiple(() =>
        {
            Assert.That(report.Reporters.Single().Failed, Is.EqualTo(2), "self-metrics travel in the report");
            Assert.That(logger.Entries.Count(e => e.Level == LogLevel.Warning && e.Exception?.Message == "backend down"), Is.EqualTo(2));
        });
        await TestWait.UntilAsync(() => reporting.GetStatus()[0].Succeeded == 1, "the third flush counted as succeeded");
    }

    [Test]
    public async Task A_flush_asked_for_while_one_runs_is_skipped_and_counted()
    {
        var time = new WatchedTimeProvider();
        var slow = new RecordingReporter("slow", TimeSpan.FromSeconds(1)) { Hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) };
        await using var reporting = MetricsReporting.Create(new MetricsReportingOptions { TimeProvider = time, Tags = Tags, FlushOnStop = false }).AddReporter(slow);
        reporting.Start();
        Task started = slow.Started.Task;
        time.Advance(TimeSpan.FromSeconds(1));
        await started.Within();
        await reporting.FlushAsync().Within();
        Assert.That(reporting.GetStatus()[0].Skipped, Is.EqualTo(1));
        slow.Hold.SetResult();
        await slow.NextAsync();
        Assert.That(slow.MaxConcurrent, Is.EqualTo(1));
    }

    [Test]
    public async Task Stop_makes_one_final_flush_and_disposes_the_reporters()
    {
        var time = new WatchedTimeProvider();
        await using Stage<int> stage = CreateStage(time);
        var reporter = new RecordingReporter("r", TimeSpan.FromMinutes(1));
        var reporting = MetricsReporting.Create(new MetricsReportingOptions { TimeProvider = time, Tags = Tags }).Add(stage).AddReporter(reporter);
        reporting.Start();
        await WriteAndSettleAsync(stage, 0, 4);
        await reporting.StopAsync().Within();
        await reporting.StopAsync().Within();
        MetricsReport final = await reporter.NextAsync();
        Assert.Multiple(() =>
        {
            Assert.That(final.IsFinal, Is.True);
            Assert.That(final.Stages.Single().IntervalCounts.Processed, Is.EqualTo(4));
            Assert.That(reporter.TryNext(out _), Is.False, "one final flush");
            Assert.That(reporter.Disposed, Is.True);
            Assert.That(() => reporting.FlushAsync(), Throws.InvalidOperationException);
            Assert.That(() => reporting.Start(), Throws.InvalidOperationException);
        });
    }

    [Test]
    public void Bad_options_and_reporters_are_refused_naming_what_is_wrong()
    {
        Assert.Multiple(() =>
        {
            Assert.That(() => MetricsReporting.Create(new MetricsReportingOptions { FlushTimeout = TimeSpan.Zero }),
                Throws.ArgumentException.With.Property("ParamName").EqualTo("options.FlushTimeout"));
            Assert.That(() => MetricsReporting.Create(new MetricsReportingOptions { Logger = null! }),
                Throws.ArgumentException.With.Property("ParamName").EqualTo("options.Logger"));
            Assert.That(() => MetricsReporting.Create(new MetricsReportingOptions { Tags = null! }),
                Throws.ArgumentException.With.Property("ParamName").EqualTo("options.Tags"));
            Assert.That(() => MetricsReporting.Create().AddReporter(new RecordingReporter("zero", TimeSpan.Zero)),
                Throws.ArgumentException.With.Message.Contains("'zero' has FlushInterval"));
            Assert.That(() => MetricsReporting.Create().AddReporter(new RecordingReporter("a", TimeSpan.FromSeconds(1))).AddReporter(new RecordingReporter("a", TimeSpan.FromSeconds(1))),
                Throws.ArgumentException.With.Message.Contains("'a' is empty or already used"));
        });
        MetricsReporting started = MetricsReporting.Create(new MetricsReportingOptions { FlushOnStop = false });
        started.Start();
        Assert.That(() => started.AddReporter(new RecordingReporter("late", TimeSpan.FromSeconds(1))), Throws.InvalidOperationException);
        MetricsReporting stopped = MetricsReporting.Create();
        Assert.That(stopped.StopAsync().IsCompletedSuccessfully, Is.True);
        Assert.That(() => stopped.AddReporter(new RecordingReporter("after-stop", TimeSpan.FromSeconds(1))), Throws.InvalidOperationException);
    }

    [Test]
    public async Task A_limiters_first_interval_starts_when_the_reporter_starts()
    {
        var time = new WatchedTimeProvider();
        using var limiter = Engine.Limiters.ConcurrencyLimiter.Create(new Engine.Limiters.ConcurrencyLimiterOptions { Name = "io", MaxConcurrency = 1, TimeProvider = time });
        (await limiter.AcquireAsync()).Dispose();
        var reporter = new RecordingReporter("r", TimeSpan.FromSeconds(1));
        await using var reporting = MetricsReporting.Create(new MetricsReportingOptions { TimeProvider = time, Tags = Tags, FlushOnStop = false }).Add(limiter).AddReporter(reporter);
        reporting.Start();
        (await limiter.AcquireAsync()).Dispose();
        time.Advance(TimeSpan.FromSeconds(1));
        MetricsReport report = await reporter.NextAsync();
        Assert.Multiple(() =>
        {
            Assert.That(report.Limiters.Single().WaitTime.Count, Is.EqualTo(1), "the acquire before Start is not in the reporter's first 1 s interval");
            Assert.That(report.Limiters.Single().Acquired, Is.EqualTo(2));
        });
    }

    [Test]
    public void Global_tags_default_to_the_entry_assembly_the_environment_and_the_machine()
    {
        GlobalTags tags = GlobalTags.Default();
        Assert.Multiple(() =>
        {
            Assert.That(tags.App, Is.Not.Empty);
            Assert.That(tags.Env, Is.EqualTo(Environment.GetEnvironmentVariable("DOTNET_ENVIRONMENT") ?? Environment.GetEnvironmentVariable("ASPNETCORE_ENVIRONMENT") ?? "production"));
            Assert.That(tags.Server, Is.EqualTo(Environment.MachineName));
        });
    }
}
