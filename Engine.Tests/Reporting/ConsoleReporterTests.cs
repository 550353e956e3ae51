using Engine.Limiters;
using Engine.Loops;
using Engine.Metrics;
using Engine.Reporting;
using Engine.Stages;

namespace Engine.Tests.Reporting;

public class ConsoleReporterTests
{
    private static readonly LatencySummary Work = new() { Count = 4, SumMilliseconds = 6, MinMilliseconds = 0.5, MaxMilliseconds = 3, LastMilliseconds = 1, MeanMilliseconds = 1.5, P50 = 1.25, P75 = 2, P95 = 3, P98 = 3, P99 = 3, P999 = 3 };
    private static readonly LatencySummary Slow = new() { Count = 2, SumMilliseconds = 300, MinMilliseconds = 100, MaxMilliseconds = 200, LastMilliseconds = 200, MeanMilliseconds = 150, P50 = 100, P75 = 200, P95 = 200, P98 = 200, P99 = 200, P999 = 200 };

    /// <summary>A fixed report: a two-stage pipeline (the sink has end-to-end latency), a loop, a limiter and a reporter.</summary>
    internal static MetricsReport FixedReport()
    {
        ShardMetricsSnapshot Shard(int index, long processed, long depth) => new()
        {
            Shard = index,
            Counts = new StageCounts { Accepted = processed + depth + 3, Processed = processed, HandlerErrors = 2, Retries = 1, DeadLettered = 1, SupersededPending = 2, DroppedOldest = 1, Waiting = depth, InFlight = 1 },
            IntervalCounts = new StageCounts { Processed = processed },
            Interval = TimeSpan.FromSeconds(2),
            Depth = depth,
            DepthPeak = depth + 4,
            Utilization = 0.5,
            BusyTime = TimeSpan.FromSeconds(1),
            LongestRunning = TimeSpan.FromMilliseconds(250),
            WorkDuration = Work,
            QueueWait = Slow,
        };

        StageMetricsSnapshot Stage(string name, bool sink)
        {
            ShardMetricsSnapshot[] shards = [Shard(0, 1000, 7), Shard(1, 500, 3), Shard(2, 0, 0)];
            return new StageMetricsSnapshot
            {
                Pipeline = "orders",
                Stage = name,
                Interval = TimeSpan.FromSeconds(2),
                Shards = shards,
                Counts = shards.Aggregate(default(StageCounts), (sum, s) => sum + s.Counts),
                IntervalCounts = new StageCounts { Processed = 1500 },
                Utilization = 0.3333,
                WorkDuration = Work,
                QueueWait = Slow,
                EndToEnd = sink ? Slow : null,
            };
        }

        return new MetricsReport
        {
            Timestamp = new DateTimeOffset(2026, 11, 27, 12, 30, 5, TimeSpan.Zero),
            Interval = TimeSpan.FromSeconds(2),
            Tags = new GlobalTags("demo", "dev", "h1"),
            Pipelines = [new PipelineMetricsSnapshot { Pipeline = "orders", Stages = [Stage("enrich-and-check-everything", sink: false), Stage("store", sink: true)], EndToEnd = Slow }],
            Loops = [new LoopMetricsSnapshot { Loop = "resync", Runs = 3, FailedRuns = 1, LastRunDuration = TimeSpan.FromMilliseconds(12.5), LastRunItems = 40, SinceLastSuccess = TimeSpan.FromSeconds(1.5) }],
            Limiters = [new LimiterMetricsSnapshot { Limiter = "io", Held = 4, Waiting = 2, MaxConcurrency = 4, Acquired = 99, WaitTime = Work }],
            Reporters = [new ReporterStatus { Reporter = "influxdb", Succeeded = 5, Failed = 1, TimedOut = 1, Delivery = new DeliveryStatistics { Sent = 1200, Buffered = 30, Dropped = 0, Rejected = 2 } }],
        };
    }

    [Test]
    public void The_view_of_a_fixed_report_is_exactly_this()
    {
        string expected = """
            engine 2026-11-27 12:30:05Z  interval 2.0 s  app=demo env=dev server=h1
            pipeline orders  e2e p50 100 p99 200 ms  (2 settled)
              stage           items/s   depth    max  util  work p50    p99   e2e p50    p99   errors  retries     dead  superseded  dropped
              enrich-and-ch~    750.0      10      7   33%      1.25   3.00         -      -        6        3        3           6        3
              store             750.0      10      7   33%      1.25   3.00       100    200        6        3        3           6        3
            loop resync: runs 3 (failed 1), running 0, last 12.5 ms for 40 items, last success 1.5 s ago
            limiter io: held 4/4, waiting 2, acquired 99, wait p50 1.25 p99 3.00 ms
            reporter influxdb before this report: flushes ok 5, failed 1 (timed out 1), skipped 0; points sent 1200, buffered 30, dropped 0, rejected 2

            """.Replace("\r\n", "\n", StringComparison.Ordinal);
        Assert.That(ConsoleReporter.Format(FixedReport()), Is.EqualTo(expected));
    }

    [Test]
    public void The_shard_table_lists_every_shard_with_the_unkeyed_one_last()
    {
        string text = ConsoleReporter.Format(FixedReport(), showShards: true);
        string[] lines = text.Split('\n');
        int header = Array.FindIndex(lines, l => l.TrimStart().StartsWith("shard", StringComparison.Ordinal));
        Assert.Multiple(() =>
        {
            Assert.That(lines[header], Is.EqualTo("      shard  items/s   depth   peak  util  work p50    p99  wait p99  in flight  longest s"));
            Assert.That(lines[header + 1], Is.EqualTo("          0    500.0       7     11   50%      1.25   3.00       200          1      0.250"));
            Assert.That(lines[header + 2], Is.EqualTo("          1    250.0       3      7   50%      1.25   3.00       200          1      0.250"));
            Assert.That(lines[header + 3], Is.EqualTo("    unkeyed      0.0       0      4   50%      1.25   3.00       200          1      0.250"));
        });
    }

    [Test]
    public async Task It_writes_the_table_to_any_text_writer()
    {
        using var writer = new StringWriter();
        await new ConsoleReporter(new ConsoleReporterOptions { Writer = writer }).FlushAsync(FixedReport(), CancellationToken.None);
        Assert.That(writer.ToString(), Is.EqualTo(ConsoleReporter.Format(FixedReport())));
    }

    [Test]
    public async Task In_App_Metrics_text_mode_it_writes_only_the_points_as_App_Metrics_console_reporter_does()
    {
        using var writer = new StringWriter();
        var reporter = new ConsoleReporter(new ConsoleReporterOptions { Writer = writer, AppMetricsText = true, RateUnit = RateUnit.Hours });
        await reporter.FlushAsync(AppMetricsGoldenTests.Report(), CancellationToken.None);
        string text = writer.ToString();
        Assert.Multiple(() =>
        {
            Assert.That(text, Does.StartWith("# TIMESTAMP: 639313794050000000\n# MEASUREMENT: [engine] queue_depth\n"), "no table before the points");
            Assert.That(text, Does.EndWith("                    p75 = 0\n--------------------------------------------------------------\n\n"), "ConsoleMetricsReporter writes the formatter's output with WriteLine");
            Assert.That(text, Does.Contain("              unit_rate = h\n# FIELDS:\n            count.meter = 200\n                 rate1m = 72000\n"), "the rate unit option: 20/s is 72,000/h");
            Assert.That(text, Does.Not.Contain("engine "));
        });
    }

    [Test]
    public void An_undefined_rate_unit_is_refused_naming_the_option() =>
        Assert.That(() => new ConsoleReporter(new ConsoleReporterOptions { RateUnit = (RateUnit)0 }), Throws.ArgumentException.With.Property("ParamName").EqualTo("options.RateUnit"));

    [Test]
    public void Stage_lines_carry_the_columns_of_the_view()
    {
        StageLine store = ConsoleReporter.StageLines(FixedReport())[1];
        Assert.That(store, Is.EqualTo(new StageLine
        {
            Pipeline = "orders", Stage = "store", ItemsPerSecond = 750, Depth = 10, MaxShardDepth = 7, Utilization = 0.3333, WorkP50 = 1.25, WorkP99 = 3,
            EndToEndP50 = 100, EndToEndP99 = 200, Errors = 6, Retries = 3, DeadLettered = 3, Superseded = 6, Dropped = 3,
        }));
    }

    [Test]
    public void Bad_options_are_refused_naming_the_option()
    {
        Assert.Multiple(() =>
        {
            Assert.That(() => new ConsoleReporter(new ConsoleReporterOptions { FlushInterval = TimeSpan.Zero }), Throws.ArgumentException.With.Property("ParamName").EqualTo("options.FlushInterval"));
            Assert.That(() => new ConsoleReporter(new ConsoleReporterOptions { Name = "" }), Throws.ArgumentException.With.Property("ParamName").EqualTo("options.Name"));
        });
    }
}
