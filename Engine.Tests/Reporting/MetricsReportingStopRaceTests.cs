using Engine.Reporting;
using Engine.Tests.Support;

namespace Engine.Tests.Reporting;

public class MetricsReportingStopRaceTests
{
    private static readonly GlobalTags Tags = new("tests", "test", "h1");

    [Test]
    public async Task Stop_while_a_flush_runs_waits_for_it_then_makes_the_final_flush_and_disposes_after()
    {
        var time = new WatchedTimeProvider();
        var reporter = new RecordingReporter("r", TimeSpan.FromMinutes(1)) { Hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) };
        var logger = new ListLogger();
        var reporting = MetricsReporting.Create(new MetricsReportingOptions { TimeProvider = time, Tags = Tags, Logger = logger }).AddReporter(reporter);
        reporting.Start();
        await time.NextTimerAsync(); // the reporter's loop

        Task started = reporter.Started.Task;
        Task flush = reporting.FlushAsync();
        await started.Within();
        await time.NextTimerAsync(); // the running flush's time bound
        Task stop = reporting.StopAsync();

        // Let stop get as far as it goes while the flush runs: it either skips the final flush (logged)
        // or waits, time-bounded, for the running flush to end.
        await Task.WhenAny(time.NextTimerAsync(), TestWait.UntilAsync(() => logger.Entries.Any(e => e.Message.Contains("skipped", StringComparison.OrdinalIgnoreCase)), "a skip logged"));

        reporter.Hold.SetResult();
        await flush.Within();
        await stop.Within();

        MetricsReport first = await reporter.NextAsync();
        Assert.That(reporter.TryNext(out MetricsReport? final), Is.True, "the final flush was made");
        Assert.Multiple(() =>
        {
            Assert.That(first.IsFinal, Is.False);
            Assert.That(final!.IsFinal, Is.True);
            Assert.That(reporting.GetStatus().Single().Skipped, Is.Zero, "the final flush is not skipped because a flush was running");
            Assert.That(reporter.DisposedWhileFlushing, Is.False, "never disposed under a running flush");
            Assert.That(reporter.Disposed, Is.True);
        });
    }
}

public class MetricsReportingFirstIntervalTests
{
    [Test]
    public async Task The_first_interval_starts_when_reporting_starts_not_when_the_scheduler_was_created()
    {
        var time = new WatchedTimeProvider();
        var reporter = new RecordingReporter("r", TimeSpan.FromSeconds(1));
        await using var reporting = MetricsReporting.Create(new MetricsReportingOptions { TimeProvider = time, Tags = new("tests", "test", "h1"), FlushOnStop = false }).AddReporter(reporter);

        // Configured at startup, started once the host is up.
        time.Advance(TimeSpan.FromSeconds(30));
        reporting.Start();
        await time.NextTimerAsync();
        time.Advance(TimeSpan.FromSeconds(1));
        MetricsReport first = await reporter.NextAsync();
        Assert.That(first.Interval, Is.EqualTo(TimeSpan.FromSeconds(1)), "the reporter flushed one interval after it started");
    }
}
