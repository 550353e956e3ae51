using Engine.Reporting;
using Engine.Tests.Support;
using Microsoft.Extensions.Logging;

namespace Engine.Tests.Reporting;

public class ThrowingDisposeTests
{
    private sealed class ThrowingDisposeReporter(string name) : IMetricsReporter, IDisposable
    {
        public string Name { get; } = name;

        public TimeSpan FlushInterval => TimeSpan.FromHours(1);

        public ValueTask FlushAsync(MetricsReport report, CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public void Dispose() => throw new InvalidOperationException("dispose failed");
    }

    [Test]
    public async Task A_reporter_that_throws_on_dispose_does_not_fail_stop_nor_keep_the_others_from_being_disposed()
    {
        var logger = new ListLogger();
        var other = new RecordingReporter("other", TimeSpan.FromHours(1));
        var reporting = MetricsReporting.Create(new MetricsReportingOptions { TimeProvider = new WatchedTimeProvider(), Tags = new("tests", "test", "h1"), Logger = logger })
            .AddReporter(new ThrowingDisposeReporter("bad")).AddReporter(other);
        reporting.Start();
        await reporting.StopAsync().Within();
        Assert.Multiple(() =>
        {
            Assert.That(other.Disposed, Is.True, "the next reporter is still disposed");
            Assert.That(logger.Entries.Any(e => e.Level >= LogLevel.Warning && e.Exception?.Message == "dispose failed"), Is.True, "the failure is logged");
        });
    }
}
