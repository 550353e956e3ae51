using Engine.Reporting;
using Engine.Tests.Support;

namespace Engine.Tests.Reporting;

public class BlockingReporterTests
{
    private static readonly GlobalTags Tags = new("tests", "test", "h1");

    /// <summary>A reporter that hangs before it returns its task (synchronous I/O, a lock): the worst kind of hung.</summary>
    private sealed class BlockingReporter(string name) : IMetricsReporter
    {
        public ManualResetEventSlim Release { get; } = new();

        public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public string Name { get; } = name;

        public TimeSpan FlushInterval => TimeSpan.FromHours(1);

        public ValueTask FlushAsync(MetricsReport report, CancellationToken cancellationToken)
        {
            Entered.TrySetResult();
            Release.Wait(TestWait.Patience * 2, CancellationToken.None);
            return ValueTask.CompletedTask;
        }
    }

    [Test]
    public async Task A_reporter_that_blocks_before_returning_its_task_delays_neither_another_reporter_nor_the_caller_of_FlushAsync()
    {
        var time = new WatchedTimeProvider();
        var blocking = new BlockingReporter("blocking");
        var healthy = new RecordingReporter("healthy", TimeSpan.FromHours(1));
        await using var reporting = MetricsReporting.Create(new MetricsReportingOptions { TimeProvider = time, Tags = Tags, FlushOnStop = false })
            .AddReporter(blocking).AddReporter(healthy);
        reporting.Start();
        try
        {
            // Run the caller on a pool thread so a blocked caller fails this test instead of hanging it.
            Task<Task> call = Task.Run(() => Task.FromResult(reporting.FlushAsync()));
            await blocking.Entered.Task.Within();
            Task flush = await call.Within();
            MetricsReport report = await healthy.NextAsync();
            Assert.Multiple(() =>
            {
                Assert.That(report.IsFinal, Is.False);
                Assert.That(flush.IsCompleted, Is.False, "FlushAsync returned a task while the blocking reporter still ran");
            });
        }
        finally
        {
            blocking.Release.Set();
        }
    }
}
