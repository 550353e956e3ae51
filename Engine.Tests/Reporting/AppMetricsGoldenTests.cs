using System.Text;
using Engine.Limiters;
using Engine.Metrics;
using Engine.Reporting;
using Engine.Stages;

namespace Engine.Tests.Reporting;

/// <summary>
/// The exact text App.Metrics would write for the same values, derived from its source
/// (AppMetrics/AppMetrics: App.Metrics.Formatters.Ascii, App.Metrics.Formatters.InfluxDB,
/// App.Metrics.Abstractions/Serialization, App.Metrics.Core/Meter). Each expected line says which of
/// its rules it follows.
/// </summary>
public class AppMetricsGoldenTests
{
    /// <summary>2026-11-27 12:30:05 UTC: 639313794050000000 .NET ticks, 1795782605000000000 ns since 1970.</summary>
    private static readonly DateTimeOffset At = new(2026, 11, 27, 12, 30, 5, TimeSpan.Zero);

    /// <summary>
    /// One stage, one shard, 10 s after the stage started: 200 items processed (20/s), four handler
    /// runs (0.5, 1.5, 3.25 and 1.25 ms: sum 6.5, mean 1.625, the last 1.25), no queue wait yet.
    /// </summary>
    internal static MetricsReport Report() => new()
    {
        Timestamp = At,
        Interval = TimeSpan.FromSeconds(10),
        Tags = new GlobalTags("demo", "dev", "h1"),
        Pipelines =
        [
            new PipelineMetricsSnapshot
            {
                Pipeline = "orders",
                Stages =
                [
                    new StageMetricsSnapshot
                    {
                        Pipeline = "orders",
                        Stage = "store",
                        Interval = TimeSpan.FromSeconds(10),
                        Shards =
                        [
                            new ShardMetricsSnapshot
                            {
                                Shard = 0,
                                Counts = new StageCounts { Accepted = 203, Processed = 200, Waiting = 3, InFlight = 1 },
                                IntervalCounts = new StageCounts { Accepted = 203, Processed = 200 },
                                Interval = TimeSpan.FromSeconds(10),
                                Depth = 3,
                                DepthPeak = 7,
                                Utilization = 0.25,
                                BusyTime = TimeSpan.FromSeconds(2.5),
                                WorkDuration = new LatencySummary { Count = 4, SumMilliseconds = 6.5, MinMilliseconds = 0.5, MaxMilliseconds = 3.25, LastMilliseconds = 1.25, MeanMilliseconds = 1.625, StdDevMilliseconds = 1.0155048005794950, P50 = 1.25, P75 = 1.5, P95 = 3.25, P98 = 3.25, P99 = 3.25, P999 = 3.25 },
                            },
                        ],
                    },
                ],
            },
        ],
    };

    private static string Text(MetricsReport report)
    {
        var text = new StringBuilder();
        new AppMetricsFormatter().Write(new AppMetricsTextWriter(text), report);
        return text.ToString();
    }

    private static string LineProtocol(MetricsReport report)
    {
        var writer = new LineProtocolWriter();
        new AppMetricsFormatter().Write(writer, report);
        return writer.ToString();
    }

    /// <summary>The text block of the point whose measurement line is <paramref name="measurement"/> (from its timestamp line through its rule).</summary>
    private static string Block(string text, string measurement)
    {
        int at = text.IndexOf("# MEASUREMENT: " + measurement + "\n", StringComparison.Ordinal);
        Assert.That(at, Is.GreaterThan(0), measurement);
        int start = text.LastIndexOf("# TIMESTAMP: ", at, StringComparison.Ordinal);
        const string rule = "--------------------------------------------------------------\n";
        int end = text.IndexOf(rule, at, StringComparison.Ordinal) + rule.Length;
        return text[start..end];
    }

    [Test]
    public void A_gauge_in_App_Metrics_text()
    {
        string expected =
            "# TIMESTAMP: 639313794050000000\n" +           // MetricsTextPoint: "# TIMESTAMP: " and the snapshot's DateTime.Ticks
            "# MEASUREMENT: [engine] queue_depth\n" +       // MetricSnapshotTextWriter's default name: "[context] name"
            "# TAGS:\n" +                                    // MetricsTextPoint: the tags section, only because the point has tags
            "               pipeline = orders\n" +          // the metric's own tags first (MetricSnapshotWriterExtensions.ConcatMetricTags); FormatReadable: 25 − 8 − 2 = 15 spaces, key, " = ", value
            "                  stage = store\n" +           // FormatReadable: 25 − 5 − 2 = 18 spaces
            "                  shard = 0\n" +
            "                    app = demo\n" +            // then the global tags (MetricsOptions.GlobalTags, added to every metric's tags)
            "                    env = dev\n" +
            "                 server = h1\n" +
            "                  mtype = gauge\n" +           // then mtype (ConcatIntrinsicMetricTags: MetricValueSourceTypeMapping)
            "                   unit = items\n" +           // then unit (the metric's Unit)
            "# FIELDS:\n" +                                  // MetricsTextPoint: always
            "                  value = 3\n" +               // GaugeFields.Value "value"; MetricsTextSyntax.FormatValue: a double, ToString(null, InvariantCulture)
            "--------------------------------------------------------------\n"; // MetricsTextPoint: 62 dashes; MetricsTextPoints: '\n' after every point
        Assert.That(Block(Text(Report()), "[engine] queue_depth"), Is.EqualTo(expected));
    }

    [Test]
    public void A_counter_in_App_Metrics_text()
    {
        string expected =
            "# TIMESTAMP: 639313794050000000\n" +
            "# MEASUREMENT: [engine] items_added\n" +
            "# TAGS:\n" +                                    // MetricsTextPoint: the tags section, only because the point has tags
            "               pipeline = orders\n" +          // the metric's own tags first (MetricSnapshotWriterExtensions.ConcatMetricTags); FormatReadable: 25 − 8 − 2 = 15 spaces, key, " = ", value
            "                  stage = store\n" +           // FormatReadable: 25 − 5 − 2 = 18 spaces
            "                  shard = 0\n" +
            "                    app = demo\n" +            // then the global tags (MetricsOptions.GlobalTags, added to every metric's tags)
            "                    env = dev\n" +
            "                 server = h1\n" +
            "                  mtype = counter\n" +
            "                   unit = items\n" +
            "# FIELDS:\n" +
            "                  value = 203\n" +             // CounterFields.Value "value": the count, a long, ToString(null, InvariantCulture)
            "--------------------------------------------------------------\n";
        Assert.That(Block(Text(Report()), "[engine] items_added"), Is.EqualTo(expected));
    }

    [Test]
    public void A_meter_in_App_Metrics_text()
    {
        string expected =
            "# TIMESTAMP: 639313794050000000\n" +
            "# MEASUREMENT: [engine] items_processed\n" +
            "# TAGS:\n" +                                    // MetricsTextPoint: the tags section, only because the point has tags
            "               pipeline = orders\n" +          // the metric's own tags first (MetricSnapshotWriterExtensions.ConcatMetricTags); FormatReadable: 25 − 8 − 2 = 15 spaces, key, " = ", value
            "                  stage = store\n" +           // FormatReadable: 25 − 5 − 2 = 18 spaces
            "                  shard = 0\n" +
            "                    app = demo\n" +            // then the global tags (MetricsOptions.GlobalTags, added to every metric's tags)
            "                    env = dev\n" +
            "                 server = h1\n" +
            "                  mtype = meter\n" +
            "                   unit = items\n" +
            "              unit_rate = min\n" +             // meters add unit_rate: MeterOptions.RateUnit defaults to TimeUnit.Minutes, Unit() "min"
            "# FIELDS:\n" +
            "            count.meter = 200\n" +             // AddMeterValues order: count.meter (total marked)
            "                 rate1m = 1200\n" +            // SimpleMeter: ticks at 5 s and 10 s each saw 100 events: 100 / 5e9 ns × 1e9 = 20/s; MeterValue.Scale(Minutes): × 60
            "                 rate5m = 1200\n" +            // the first tick sets all three averages
            "                rate15m = 1200\n" +
            "              rate.mean = 1200\n" +            // SimpleMeter.GetMeanRate: 200 / 10e9 ns × 1e9 = 20/s, × 60
            "--------------------------------------------------------------\n";
        Assert.That(Block(Text(Report()), "[engine] items_processed"), Is.EqualTo(expected));
    }

    [Test]
    public void A_timer_in_App_Metrics_text()
    {
        string expected =
            "# TIMESTAMP: 639313794050000000\n" +
            "# MEASUREMENT: [engine] work_duration\n" +
            "# TAGS:\n" +                                    // MetricsTextPoint: the tags section, only because the point has tags
            "               pipeline = orders\n" +          // the metric's own tags first (MetricSnapshotWriterExtensions.ConcatMetricTags); FormatReadable: 25 − 8 − 2 = 15 spaces, key, " = ", value
            "                  stage = store\n" +           // FormatReadable: 25 − 5 − 2 = 18 spaces
            "                  shard = 0\n" +
            "                    app = demo\n" +            // then the global tags (MetricsOptions.GlobalTags, added to every metric's tags)
            "                    env = dev\n" +
            "                 server = h1\n" +
            "                  mtype = timer\n" +
            "                   unit = items\n" +
            "               unit_dur = ms\n" +              // timers add unit_dur (TimerOptions.DurationUnit: Milliseconds, "ms") then unit_rate
            "              unit_rate = min\n" +             // TimerOptions.RateUnit: Minutes
            "# FIELDS:\n" +
            "            count.meter = 4\n" +               // WriteTimer: the meter's fields first (AddMeterValues)
            "                 rate1m = 24\n" +              // 2 events per 5 s tick: 0.4/s, × 60
            "                 rate5m = 24\n" +
            "                rate15m = 24\n" +
            "              rate.mean = 24\n" +              // 4 / 10 s, × 60
            "                samples = 4\n" +               // then AddHistogramValues: samples = the reservoir's size, min(count, 1028)
            "                   last = 1.25\n" +            // last: the last value recorded
            "             count.hist = 4\n" +               // count.hist: every value recorded
            "                    sum = 6.5\n" +             // sum: of every value recorded
            "                    min = 0.5\n" +             // min, max: exact recorded values (WeightedSnapshot keeps values, not buckets)
            "                    max = 3.25\n" +
            "                   mean = 1.625\n" +
            "                 median = 1.25\n" +
            "                 stddev = 1.015504800579495\n" + // FormatValue: the shortest text that reads back as the same double
            "                   p999 = 3.25\n" +            // percentiles in App.Metrics' order: p999, p99, p98, p95, p75
            "                    p99 = 3.25\n" +
            "                    p98 = 3.25\n" +
            "                    p95 = 3.25\n" +
            "                    p75 = 1.5\n" +
            "--------------------------------------------------------------\n";
        Assert.That(Block(Text(Report()), "[engine] work_duration"), Is.EqualTo(expected));
    }

    [Test]
    public void Text_tags_appear_only_when_there_are_some_long_keys_are_not_padded_and_the_text_is_ASCII()
    {
        var text = new StringBuilder();
        var writer = new AppMetricsTextWriter(text);
        writer.Write(writer.Measurement("engine", "plain"), [], [new("value", 1L)], 0);
        writer.Write(writer.Measurement("", "ünï→"), [new("k", "a\nb😀")], [new("a_key_of_21_character", 0.1), new("a_key_of_22_characters", true)], 0);
        string expected =
            "# TIMESTAMP: 621355968000000000\n" +           // DateTime.Ticks of the Unix epoch
            "# MEASUREMENT: [engine] plain\n" +
            "# FIELDS:\n" +                                  // no "# TAGS:" line: MetricsTextPoint writes it only when Tags.Count > 0
            "                  value = 1\n" +
            "--------------------------------------------------------------\n" +
            "# TIMESTAMP: 621355968000000000\n" +
            "# MEASUREMENT: ?n??\n" +                        // no context: the name alone; MetricsTextOptions.Encoding is ASCII: every other UTF-16 unit is '?'
            "# TAGS:\n" +
            "                      k = a b??\n" +           // a newline is written as a space (ours, stricter: App.Metrics writes it raw and breaks the layout); the emoji's two UTF-16 units are "??"
            "# FIELDS:\n" +
            "  a_key_of_21_character = 0.1\n" +             // FormatReadable pads when length + 2 + 1 < 25: 21 characters get 25 − 21 − 2 = 2 spaces
            "a_key_of_22_characters = true\n" +             // 22 characters: no padding at all; FormatBoolean: "true"
            "--------------------------------------------------------------\n";
        Assert.That(text.ToString(), Is.EqualTo(expected));
    }

    [Test]
    public void Points_go_out_gauges_then_counters_then_meters_then_timers_as_App_Metrics_serialises_a_context()
    {
        // MetricSnapshotSerializer.Serialize walks a context's gauges, counters, meters, then timers.
        string text = Text(ConsoleReporterTests.FixedReport());
        string[] types = [.. text.Split('\n').Where(l => l.StartsWith("                  mtype = ", StringComparison.Ordinal)).Select(l => l[26..])];
        string[] order = ["gauge", "counter", "meter", "timer"];
        Assert.Multiple(() =>
        {
            Assert.That(types.Distinct(), Is.EqualTo(order));
            Assert.That(types.Select(t => Array.IndexOf(order, t)), Is.Ordered);
        });
    }

    [Test]
    public void Four_points_in_App_Metrics_line_protocol()
    {
        string[] expected =
        [
            "engine__queue_depth" +                          // InfluxDbFormatterConstants.LineProtocol.MetricNameFormatter: "{context}__{name}", spaces as '_', lower-cased
            ",pipeline=orders,stage=store,shard=0" +         // LineProtocolPointBase.WriteCommonAsync: ",key=value" per tag in MetricTags order: the metric's own,
            ",app=demo,env=dev,server=h1" +                  // the global tags,
            ",mtype=gauge,unit=items" +                      // mtype, unit
            " value=3" +                                     // LineProtocolPointSingleValue: ' ', field, '='; FormatFloat: ToString(null, InvariantCulture)
            " 1795782605000000000",                          // WriteTimestampAsync: ' ' and LineProtocolSyntax.FormatTimestamp: (t − 1970-01-01).Ticks × 100
            "engine__items_added,pipeline=orders,stage=store,shard=0,app=demo,env=dev,server=h1,mtype=counter,unit=items" +
            " value=203i" +                                  // FormatInteger: the invariant text and 'i'
            " 1795782605000000000",
            "engine__items_processed,pipeline=orders,stage=store,shard=0,app=demo,env=dev,server=h1,mtype=meter,unit=items" +
            ",unit_rate=min" +                               // meters: unit_rate after unit
            " count.meter=200i,rate1m=1200,rate5m=1200,rate15m=1200,rate.mean=1200" + // LineProtocolPointMultipleValues: ' ' before the first field, ',' between; AddMeterValues order
            " 1795782605000000000",
            "engine__work_duration,pipeline=orders,stage=store,shard=0,app=demo,env=dev,server=h1,mtype=timer,unit=items" +
            ",unit_dur=ms,unit_rate=min" +                   // timers: unit_dur then unit_rate
            " count.meter=4i,rate1m=24,rate5m=24,rate15m=24,rate.mean=24" +          // WriteTimer: the meter's fields,
            ",samples=4i,last=1.25,count.hist=4i,sum=6.5" +  // then the histogram's: samples (an int: 'i'), last, count.hist (a long), sum (a double),
            ",min=0.5,max=3.25,mean=1.625,median=1.25,stddev=1.015504800579495" +
            ",p999=3.25,p99=3.25,p98=3.25,p95=3.25,p75=1.5" +
            " 1795782605000000000",
        ];
        string[] lines = LineProtocol(Report()).Split('\n');
        Assert.Multiple(() =>
        {
            foreach (string line in expected)
            {
                string measurement = line[..line.IndexOf(',', StringComparison.Ordinal)];
                Assert.That(lines.Single(l => l.StartsWith(measurement + ",", StringComparison.Ordinal)), Is.EqualTo(line));
            }
        });
    }

    [Test]
    public void An_empty_timer_writes_zeros_as_App_Metrics_writes_an_empty_reservoir()
    {
        // WeightedSnapshot with no values: Min, Max (FirstOrDefault/LastOrDefault), Mean, StdDev and every
        // percentile are 0; the histogram's last value is 0 until one is recorded.
        Assert.That(LineProtocol(Report()).Split('\n').Single(l => l.StartsWith("engine__queue_wait,", StringComparison.Ordinal)), Does.EndWith(
            " count.meter=0i,rate1m=0,rate5m=0,rate15m=0,rate.mean=0,samples=0i,last=0,count.hist=0i,sum=0,min=0,max=0,mean=0,median=0,stddev=0,p999=0,p99=0,p98=0,p95=0,p75=0 1795782605000000000"));
    }
}
