using System.Text;
using Engine.Reporting;
using Engine.Tests.Support;
using Microsoft.Extensions.Logging;

namespace Engine.Tests.Reporting;

/// <summary>Contributed sources (<see cref="IMetricsSource"/>): their points reach every reporter; a throwing one breaks nothing.</summary>
public class MetricsSourceTests
{
    private static readonly GlobalTags Tags = new("demo", "dev", "h1");

    private static MetricsReporting Reporting(WatchedTimeProvider time, ILogger? logger = null) =>
        MetricsReporting.Create(new MetricsReportingOptions { TimeProvider = time, Tags = Tags, FlushOnStop = false, Logger = logger ?? new ListLogger() });

    [Test]
    public async Task The_console_view_shows_a_source_s_points_one_row_per_tag_set()
    {
        var time = new WatchedTimeProvider();
        using var writer = new StringWriter();
        await using MetricsReporting reporting = Reporting(time)
            .Add(new FakeMetricsSource("fake", partitions: 2))
            .AddReporter(new ConsoleReporter(new ConsoleReporterOptions { Writer = writer, FlushInterval = TimeSpan.FromHours(1) }));
        reporting.Start();
        await reporting.FlushAsync().Within();

        string expected = """
            engine 2026-01-01 00:00:00Z  interval 0.0 s  app=demo env=dev server=h1
            source fake: 5 points, failures 0
              fake_members=2
              stage=orders partition=0  fake_partition_*: pending=2.5 acked=2
              stage=orders partition=1  fake_partition_*: pending=2.5 acked=12
            reporter console before this report: flushes ok 0, failed 0 (timed out 0), skipped 0

            """.Replace("\r\n", "\n", StringComparison.Ordinal);
        Assert.That(writer.ToString(), Is.EqualTo(expected));
    }

    [Test]
    public async Task The_App_Metrics_text_view_writes_a_source_s_points_as_gauges_and_counters_with_their_tags_then_the_global_ones()
    {
        var time = new WatchedTimeProvider();
        using var writer = new StringWriter();
        await using MetricsReporting reporting = Reporting(time)
            .Add(new FakeMetricsSource("fake", partitions: 1))
            .AddReporter(new ConsoleReporter(new ConsoleReporterOptions { Writer = writer, AppMetricsText = true, FlushInterval = TimeSpan.FromHours(1) }));
        reporting.Start();
        await reporting.FlushAsync().Within();

        string text = writer.ToString().Replace("\r\n", "\n", StringComparison.Ordinal);
        string pending = """
            # MEASUREMENT: [engine] fake_partition_pending
            # TAGS:
                              stage = orders
                          partition = 0
                                app = demo
                                env = dev
                             server = h1
                              mtype = gauge
                               unit = messages
            # FIELDS:
                              value = 2.5
            ---
            """.Replace("\r\n", "\n", StringComparison.Ordinal);
        string acked = """
            # MEASUREMENT: [engine] fake_partition_acked
            # TAGS:
                              stage = orders
                          partition = 0
                                app = demo
                                env = dev
                             server = h1
                              mtype = counter
                               unit = messages
            # FIELDS:
                              value = 2
            ---
            """.Replace("\r\n", "\n", StringComparison.Ordinal);
        string sourcePoints = """
            # MEASUREMENT: [engine] source_points
            # TAGS:
                             source = fake
            """.Replace("\r\n", "\n", StringComparison.Ordinal);
        Assert.Multiple(() =>
        {
            Assert.That(text, Does.Contain(pending));
            Assert.That(text, Does.Contain(acked));
            Assert.That(text, Does.Contain(sourcePoints));
            // App.Metrics' order of types: every gauge (the source's among them) before any counter.
            Assert.That(text.IndexOf("[engine] fake_partition_pending", StringComparison.Ordinal), Is.LessThan(text.IndexOf("[engine] fake_partition_acked", StringComparison.Ordinal)));
        });
    }

    [Test]
    public async Task A_throwing_source_loses_only_its_own_points_and_is_logged_and_counted()
    {
        var time = new WatchedTimeProvider();
        var logger = new ListLogger();
        var broken = new FakeMetricsSource("broken", partitions: 2) { Throw = new InvalidOperationException("figures unavailable") };
        var healthy = new FakeMetricsSource("healthy", partitions: 1);
        var reporter = new RecordingReporter("recording", TimeSpan.FromHours(1));
        await using MetricsReporting reporting = Reporting(time, logger).Add(broken).Add(healthy).AddReporter(reporter);
        reporting.Start();

        await reporting.FlushAsync().Within();
        MetricsReport first = await reporter.NextAsync();
        await reporting.FlushAsync().Within();
        MetricsReport second = await reporter.NextAsync();
        broken.Throw = null;
        await reporting.FlushAsync().Within();
        MetricsReport third = await reporter.NextAsync();

        Assert.Multiple(() =>
        {
            Assert.That(reporting.GetStatus().Single().Failed, Is.Zero, "the reporter's flushes all succeeded");
            Assert.That(first.Sources.Select(s => s.Source), Is.EqualTo(new[] { "broken", "healthy" }));
            Assert.That(first.Sources[0].Failed, Is.True);
            Assert.That(first.Sources[0].Points, Is.Empty, "the point written before the throw is discarded");
            Assert.That(first.Sources[0].Failures, Is.EqualTo(1));
            Assert.That(second.Sources[0].Failures, Is.EqualTo(2));
            Assert.That(first.Sources[1].Points, Has.Count.EqualTo(3), "the healthy source is unaffected");
            Assert.That(third.Sources[0].Failed, Is.False);
            Assert.That(third.Sources[0].Failures, Is.EqualTo(2), "failures are cumulative");
            Assert.That(third.Sources[0].Points, Has.Count.EqualTo(5));
            Assert.That(
                logger.Entries.Where(e => e.Level == LogLevel.Warning && e.Message.Contains("'broken'", StringComparison.Ordinal)).Select(e => e.Exception?.Message),
                Is.EqualTo(new[] { "figures unavailable", "figures unavailable" }));
        });

        // The table view says so too.
        string view = ConsoleReporter.Format(second);
        Assert.That(view, Does.Contain("source broken: 0 points, failures 2 (this report's call failed)\n"));
    }

    [Test]
    public async Task A_source_can_be_removed_and_its_name_must_be_unique()
    {
        var time = new WatchedTimeProvider();
        var source = new FakeMetricsSource("fake", partitions: 1);
        var reporter = new RecordingReporter("recording", TimeSpan.FromHours(1));
        await using MetricsReporting reporting = Reporting(time).Add(source).AddReporter(reporter);
        reporting.Start();

        ArgumentException? duplicate = Assert.Throws<ArgumentException>(() => reporting.Add(new FakeMetricsSource("fake", partitions: 1)));
        Assert.That(duplicate!.Message, Does.Contain("'fake'"));
        await reporting.FlushAsync().Within();
        Assert.That((await reporter.NextAsync()).Sources.Single().Points, Has.Count.EqualTo(3));

        Assert.That(reporting.Remove(source), Is.True);
        Assert.That(reporting.Remove(source), Is.False);
        await reporting.FlushAsync().Within();
        Assert.That((await reporter.NextAsync()).Sources, Is.Empty);
        Assert.That(source.Calls, Is.EqualTo(1));

        // Once removed, the name is free again.
        reporting.Add(new FakeMetricsSource("fake", partitions: 1));
    }

    [Test]
    public void A_point_may_not_take_an_engine_metric_s_name_a_reserved_tag_or_a_tag_twice()
    {
        KeyValuePair<string, string?>[] withUnit = [new("unit", "x")];
        KeyValuePair<string, string?>[] twice = [new("stage", "a"), new("stage", "b")];
        Assert.Multiple(() =>
        {
            Assert.That(() => MetricPoint.Gauge("queue_depth", "items", 1), Throws.ArgumentException.With.Message.Contains("engine's own"));
            Assert.That(() => MetricPoint.Gauge("source_points", "points", 1), Throws.ArgumentException.With.Message.Contains("engine's own"));
            Assert.That(() => MetricPoint.Counter("fake", "items", 1, withUnit), Throws.ArgumentException.With.Message.Contains("'unit'"));
            Assert.That(() => MetricPoint.Counter("fake", "items", 1, twice), Throws.ArgumentException.With.Message.Contains("twice"));
            Assert.That(() => MetricPoint.Counter(" ", "items", 1), Throws.ArgumentException);
            Assert.That(() => MetricPoint.Counter("fake", "", 1), Throws.ArgumentException);
            Assert.That(MetricPoint.Counter("fake", "items", 7).Value, Is.EqualTo(7.0));
        });
    }

    [Test]
    public void A_report_s_default_points_are_skipped_by_every_view()
    {
        var report = new MetricsReport
        {
            Tags = Tags,
            Sources = [new SourceMetricsSnapshot { Source = "odd", Points = [default, MetricPoint.Gauge("fake_g", "x", 1)] }],
        };
        var text = new StringBuilder();
        new AppMetricsFormatter().Write(new AppMetricsTextWriter(text), report);
        Assert.Multiple(() =>
        {
            Assert.That(ConsoleReporter.Format(report), Does.Contain("source odd: 2 points, failures 0\n  fake_g=1\n"));
            Assert.That(text.ToString(), Does.Contain("[engine] fake_g"));
        });
    }
}
