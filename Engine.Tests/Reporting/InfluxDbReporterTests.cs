using System.Net;
using System.Text;
using Engine.Pipelines;
using Engine.Reporting;
using Engine.Stages;
using Engine.Tests.Support;
using Microsoft.Extensions.Logging;

namespace Engine.Tests.Reporting;

/// <summary>The InfluxDB reporter against a real InfluxDB 1.x server started by the tests.</summary>
[NonParallelizable]
public class InfluxDbReporterTests
{
    private const string AwkwardStage = "en rich,x=1 \"q\" \\b ünï→";
    private static readonly GlobalTags AwkwardTags = new("my app,v=2 \"quoted\" back\\slash", "tést env", "h=1 ∞");

    private InfluxDbServer _server = null!;

    [OneTimeSetUp]
    public async Task StartServer() => _server = await InfluxDbServer.StartNewAsync();

    [OneTimeTearDown]
    public async Task StopServer()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    private static string NewDatabase() => "engine_" + Guid.NewGuid().ToString("N")[..12];

    /// <summary>A two-stage pipeline that has processed <paramref name="items"/> items (some failing once, some for good).</summary>
    private static async Task<Pipeline<int>> RunPipelineAsync(string firstStage, int items)
    {
        Pipeline<int> pipeline = Pipeline.Create<int>("orders")
            .Then(firstStage, (int i, CancellationToken _) => i % 10 == 9 ? throw new InvalidOperationException("permanent") : ValueTask.FromResult(i * 2),
                o => { o.KeySelector = i => (i % 5).ToString(); o.Shards = 2; })
            .Sink("store", (int _, ItemContext _, CancellationToken _) => ValueTask.CompletedTask, o => { o.KeySelector = i => (i % 3).ToString(); o.Shards = 2; })
            .Build();
        for (int i = 0; i < items; i++)
        {
            await pipeline.WriteAsync(i);
        }

        await TestWait.UntilAsync(() => pipeline.GetCounts().Stages.Sum(s => s.Counts.Processed + s.Counts.DeadLettered) == items + (items - (items / 10)), "every item settled in both stages");
        return pipeline;
    }

    private static InfluxDbReporter Reporter(Uri url, string database, Action<InfluxDbReporterOptions>? configure = null, ILogger? logger = null)
    {
        var options = new InfluxDbReporterOptions { Url = url.ToString(), Database = database, FlushInterval = TimeSpan.FromHours(1), Logger = logger ?? new ListLogger() };
        configure?.Invoke(options);
        return new InfluxDbReporter(options);
    }

    [Test]
    public async Task Every_measurement_tag_and_field_reaches_the_server_with_its_type_and_awkward_names_round_trip()
    {
        string db = NewDatabase();
        await using Pipeline<int> pipeline = await RunPipelineAsync(AwkwardStage, 50);
        var reporter = Reporter(_server.Url, db);
        await using var reporting = MetricsReporting.Create(new MetricsReportingOptions { Tags = AwkwardTags, FlushOnStop = false }).Add(pipeline).AddReporter(reporter);
        reporting.Start();
        await reporting.FlushAsync().Within();

        ReporterStatus status = reporting.GetStatus().Single();
        Assert.That(status.Succeeded, Is.EqualTo(1), () => "flush failed: " + status);
        Assert.That(status.Delivery!.Sent, Is.GreaterThan(0));
        Assert.That(status.Delivery.Buffered, Is.Zero);

        List<InfluxDbServer.Series> measurements = await _server.QueryAsync(db, "SHOW MEASUREMENTS");
        string[] names = [.. measurements.Single().Values.Select(v => (string)v[0]!)];
        Assert.That(names, Is.SupersetOf(new[]
        {
            "engine__queue_depth", "engine__queue_depth_peak", "engine__in_flight", "engine__items_added", "engine__items_superseded", "engine__items_dropped",
            "engine__items_processed", "engine__handler_errors", "engine__retries", "engine__dead_lettered", "engine__busy_time", "engine__utilization",
            "engine__work_duration", "engine__queue_wait", "engine__end_to_end_latency", "engine__unfinished_work", "engine__longest_running",
        }));

        // Field types as App.Metrics writes them: counters integer, gauges float, meters and timers both.
        async Task<Dictionary<string, string>> FieldTypes(string measurement) =>
            (await _server.QueryAsync(db, $"SHOW FIELD KEYS FROM \"{measurement}\"")).Single().Values.ToDictionary(v => (string)v[0]!, v => (string)v[1]!);
        Dictionary<string, string> counter = await FieldTypes("engine__items_added");
        Dictionary<string, string> gauge = await FieldTypes("engine__utilization");
        Dictionary<string, string> meter = await FieldTypes("engine__items_processed");
        Dictionary<string, string> timer = await FieldTypes("engine__work_duration");
        Assert.Multiple(() =>
        {
            Assert.That(counter, Is.EqualTo(new Dictionary<string, string> { ["value"] = "integer" }));
            Assert.That(gauge, Is.EqualTo(new Dictionary<string, string> { ["value"] = "float" }));
            Assert.That(meter, Is.EqualTo(new Dictionary<string, string> { ["count.meter"] = "integer", ["rate1m"] = "float", ["rate5m"] = "float", ["rate15m"] = "float", ["rate.mean"] = "float" }));
            Assert.That(timer["samples"], Is.EqualTo("integer"));
            Assert.That(timer["count.hist"], Is.EqualTo("integer"));
            Assert.That(timer["count.meter"], Is.EqualTo("integer"));
            foreach (string f in new[] { "last", "sum", "min", "max", "mean", "median", "stddev", "p999", "p99", "p98", "p95", "p75", "rate1m", "rate.mean" })
            {
                Assert.That(timer[f], Is.EqualTo("float"), f);
            }
        });

        // Tags and values: the awkward stage name and global tags come back exactly, and the counts are the pipeline's.
        List<InfluxDbServer.Series> added = await _server.QueryAsync(db, "SELECT sum(\"value\") FROM \"engine__items_added\" GROUP BY \"pipeline\", \"stage\", \"app\", \"env\", \"server\", \"mtype\", \"unit\"");
        InfluxDbServer.Series first = added.Single(s => s.Tags["stage"] == AwkwardStage);
        Assert.Multiple(() =>
        {
            Assert.That(first.Tags["pipeline"], Is.EqualTo("orders"));
            Assert.That(first.Tags["app"], Is.EqualTo(AwkwardTags.App));
            Assert.That(first.Tags["env"], Is.EqualTo(AwkwardTags.Env));
            Assert.That(first.Tags["server"], Is.EqualTo(AwkwardTags.Server));
            Assert.That(first.Tags["mtype"], Is.EqualTo("counter"));
            Assert.That(first.Tags["unit"], Is.EqualTo("items"));
            Assert.That(first[0, "sum"], Is.EqualTo(50L));
            Assert.That(added.Single(s => s.Tags["stage"] == "store")[0, "sum"], Is.EqualTo(45L));
        });

        List<InfluxDbServer.Series> dead = await _server.QueryAsync(db, $"SELECT sum(\"value\") FROM \"engine__dead_lettered\" WHERE \"stage\" = '{AwkwardStage.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("'", "\\'", StringComparison.Ordinal)}'");
        Assert.That(dead.Single()[0, "sum"], Is.EqualTo(5L));

        List<InfluxDbServer.Series> superseded = await _server.QueryAsync(db, "SHOW TAG VALUES FROM \"engine__items_superseded\" WITH KEY = \"reason\"");
        Assert.That(superseded.Single().Values.Select(v => (string)v[1]!), Is.EquivalentTo(new[] { "pending", "merged", "in_flight", "content", "stale_retry", "delayed" }));

        List<InfluxDbServer.Series> e2e = await _server.QueryAsync(db, "SELECT sum(\"samples\") FROM \"engine__end_to_end_latency\"");
        Assert.That(e2e.Single()[0, "sum"], Is.EqualTo(45L), "end-to-end latency is recorded once per item settled in the sink");

        // One timestamp per flush.
        List<InfluxDbServer.Series> times = await _server.QueryAsync(db, "SELECT \"value\" FROM \"engine__queue_depth\"");
        Assert.That(times.Single().Values.Select(v => v[0]).Distinct().Count(), Is.EqualTo(1));

        // Self-metrics: the reporter's own flush counts arrive in the next flush.
        await reporting.FlushAsync().Within();
        List<InfluxDbServer.Series> flushes = await _server.QueryAsync(db, "SELECT last(\"value\") FROM \"engine__reporter_flushes\" WHERE \"result\" = 'succeeded' AND \"reporter\" = 'influxdb'");
        Assert.That(flushes.Single()[0, "last"], Is.EqualTo(1L));
    }

    [Test]
    public async Task A_contributed_source_s_points_reach_the_server_as_App_Metrics_gauges_and_counters_with_their_tags()
    {
        string db = NewDatabase();
        var source = new FakeMetricsSource("fake", partitions: 2);
        var broken = new FakeMetricsSource("broken", partitions: 1) { Throw = new InvalidOperationException("no figures") };
        await using var reporting = MetricsReporting.Create(new MetricsReportingOptions { Tags = new GlobalTags("demo", "dev", "h1"), FlushOnStop = false })
            .Add(source).Add(broken).AddReporter(Reporter(_server.Url, db));
        reporting.Start();
        await reporting.FlushAsync().Within();
        source.Pending = 4.5;
        await reporting.FlushAsync().Within();
        Assert.That(reporting.GetStatus().Single().Failed, Is.Zero, "a throwing source fails no flush");

        async Task<Dictionary<string, string>> FieldTypes(string measurement) =>
            (await _server.QueryAsync(db, $"SHOW FIELD KEYS FROM \"{measurement}\"")).Single().Values.ToDictionary(v => (string)v[0]!, v => (string)v[1]!);
        List<InfluxDbServer.Series> pending = await _server.QueryAsync(db, "SELECT last(\"value\") FROM \"engine__fake_partition_pending\" GROUP BY *");
        List<InfluxDbServer.Series> acked = await _server.QueryAsync(db, "SELECT last(\"value\") FROM \"engine__fake_partition_acked\" GROUP BY \"partition\"");
        List<InfluxDbServer.Series> members = await _server.QueryAsync(db, "SELECT \"value\" FROM \"engine__fake_members\" GROUP BY \"partition\"");
        List<InfluxDbServer.Series> failures = await _server.QueryAsync(db, "SELECT last(\"value\") FROM \"engine__source_failures\" GROUP BY \"source\"");
        List<InfluxDbServer.Series> points = await _server.QueryAsync(db, "SELECT last(\"value\") FROM \"engine__source_points\" GROUP BY \"source\"");
        Dictionary<string, string> gaugeFields = await FieldTypes("engine__fake_partition_pending");
        Dictionary<string, string> counterFields = await FieldTypes("engine__fake_partition_acked");
        Assert.Multiple(() =>
        {
            Assert.That(gaugeFields, Is.EqualTo(new Dictionary<string, string> { ["value"] = "float" }));
            Assert.That(counterFields, Is.EqualTo(new Dictionary<string, string> { ["value"] = "integer" }));
            Assert.That(pending, Has.Count.EqualTo(2), "one series per partition");
            foreach (InfluxDbServer.Series series in pending)
            {
                Assert.That(series.Tags, Is.EqualTo(new Dictionary<string, string>
                {
                    ["stage"] = "orders", ["partition"] = series.Tags["partition"], ["app"] = "demo", ["env"] = "dev", ["server"] = "h1", ["mtype"] = "gauge", ["unit"] = "messages",
                }));
                Assert.That(series[0, "last"], Is.EqualTo(4.5));
            }

            Assert.That(acked.ToDictionary(s => s.Tags["partition"], s => s[0, "last"]), Is.EqualTo(new Dictionary<string, object?> { ["0"] = 4L, ["1"] = 14L }));
            Assert.That(members.Single().Values, Has.Count.EqualTo(2), "a point without tags, once per flush");
            Assert.That(failures.ToDictionary(s => s.Tags["source"], s => s[0, "last"]), Is.EqualTo(new Dictionary<string, object?> { ["fake"] = 0L, ["broken"] = 2L }));
            Assert.That(points.ToDictionary(s => s.Tags["source"], s => Convert.ToDouble(s[0, "last"], System.Globalization.CultureInfo.InvariantCulture)), Is.EqualTo(new Dictionary<string, double> { ["fake"] = 5, ["broken"] = 0 }));
        });
    }

    [Test]
    public async Task Every_query_of_the_Grafana_dashboard_runs_and_finds_its_series()
    {
        string db = NewDatabase();
        await using Pipeline<int> pipeline = await RunPipelineAsync("enrich", 20);
        var time = new WatchedTimeProvider();
        time.SetUtcNow(DateTimeOffset.UtcNow.AddMinutes(-5));
        await using var reporting = MetricsReporting.Create(new MetricsReportingOptions { TimeProvider = time, FlushOnStop = false }).Add(pipeline).AddReporter(Reporter(_server.Url, db));
        reporting.Start();
        for (int flush = 0; flush < 3; flush++)
        {
            await reporting.FlushAsync().Within();
            time.Advance(TimeSpan.FromSeconds(10));
        }

        string path = Path.Combine(TestContext.CurrentContext.TestDirectory, "dashboards", "engine-pipelines.json");
        using var json = System.Text.Json.JsonDocument.Parse(await File.ReadAllTextAsync(path));
        static string Concrete(string query) => query
            .Replace("$timeFilter", "time > now() - 1h", StringComparison.Ordinal)
            .Replace("$__interval", "10s", StringComparison.Ordinal)
            .Replace("/^$app$/", "/^.*$/", StringComparison.Ordinal)
            .Replace("/^$pipeline$/", "/^.*$/", StringComparison.Ordinal)
            .Replace("/^$stage$/", "/^.*$/", StringComparison.Ordinal);

        var empty = new List<string>();
        int queries = 0;
        foreach (var variable in json.RootElement.GetProperty("templating").GetProperty("list").EnumerateArray())
        {
            queries++;
            if ((await _server.QueryAsync(db, Concrete(variable.GetProperty("query").GetString()!))).Count == 0)
            {
                empty.Add(variable.GetProperty("name").GetString()!);
            }
        }

        foreach (var panel in json.RootElement.GetProperty("panels").EnumerateArray())
        {
            foreach (var target in panel.GetProperty("targets").EnumerateArray())
            {
                queries++;
                string query = Concrete(target.GetProperty("query").GetString()!);
                if ((await _server.QueryAsync(db, query)).Count == 0)
                {
                    empty.Add(panel.GetProperty("title").GetString() + ": " + query);
                }
            }
        }

        Assert.That(queries, Is.EqualTo(17));
        Assert.That(empty, Is.Empty, "every dashboard query is valid InfluxQL (QueryAsync fails on an error) and finds data");
    }


    [Test]
    public async Task The_golden_report_round_trips_through_the_server_with_App_Metrics_field_types_and_exact_values()
    {
        string db = NewDatabase();
        using var reporter = Reporter(_server.Url, db);
        await reporter.FlushAsync(AppMetricsGoldenTests.Report(), CancellationToken.None).AsTask().Within();

        async Task<Dictionary<string, string>> FieldTypes(string measurement) =>
            (await _server.QueryAsync(db, $"SHOW FIELD KEYS FROM \"{measurement}\"")).Single().Values.ToDictionary(v => (string)v[0]!, v => (string)v[1]!);
        async Task<Dictionary<string, object?>> Row(string measurement)
        {
            InfluxDbServer.Series series = (await _server.QueryAsync(db, $"SELECT * FROM \"{measurement}\"")).Single();
            return series.Columns.Zip(series.Values.Single()).ToDictionary(p => p.First, p => p.Second);
        }

        Dictionary<string, string> timerTypes = await FieldTypes("engine__work_duration");
        Dictionary<string, object?> timer = await Row("engine__work_duration");
        Dictionary<string, object?> meter = await Row("engine__items_processed");
        Dictionary<string, object?> counter = await Row("engine__items_added");
        Dictionary<string, object?> gauge = await Row("engine__utilization");
        Dictionary<string, string> counterTypes = await FieldTypes("engine__items_added");
        Dictionary<string, string> gaugeTypes = await FieldTypes("engine__utilization");
        Assert.Multiple(() =>
        {
            // App.Metrics' types: long and int fields are integers, doubles floats.
            foreach (string integer in new[] { "count.meter", "samples", "count.hist" })
            {
                Assert.That(timerTypes[integer], Is.EqualTo("integer"), integer);
            }

            foreach (string real in new[] { "rate1m", "rate5m", "rate15m", "rate.mean", "last", "sum", "min", "max", "mean", "median", "stddev", "p999", "p99", "p98", "p95", "p75" })
            {
                Assert.That(timerTypes[real], Is.EqualTo("float"), real);
            }

            Assert.That(counterTypes, Is.EqualTo(new Dictionary<string, string> { ["value"] = "integer" }));
            Assert.That(gaugeTypes, Is.EqualTo(new Dictionary<string, string> { ["value"] = "float" }));

            // Values come back exactly, floats included.
            Assert.That(timer["count.meter"], Is.EqualTo(4L));
            Assert.That(timer["samples"], Is.EqualTo(4L));
            Assert.That(timer["count.hist"], Is.EqualTo(4L));
            Assert.That(timer["rate1m"], Is.EqualTo(24L).Or.EqualTo(24.0), "JSON writes 24.0 as 24");
            Assert.That(timer["stddev"], Is.EqualTo(1.015504800579495));
            Assert.That(timer["sum"], Is.EqualTo(6.5));
            Assert.That(timer["min"], Is.EqualTo(0.5));
            Assert.That(timer["max"], Is.EqualTo(3.25));
            Assert.That(timer["last"], Is.EqualTo(1.25));
            Assert.That(timer["unit_rate"], Is.EqualTo("min"));
            Assert.That(timer["unit_dur"], Is.EqualTo("ms"));
            Assert.That(meter["rate1m"], Is.EqualTo(1200L).Or.EqualTo(1200.0));
            Assert.That(meter["count.meter"], Is.EqualTo(200L));
            Assert.That(counter["value"], Is.EqualTo(203L));
            Assert.That(gauge["value"], Is.EqualTo(0.25));
        });
    }

    [Test]
    public async Task String_and_boolean_fields_round_trip_too()
    {
        // The formatter writes integers and floats only (as App.Metrics does for its metrics); the
        // writer also carries strings (LineProtocolSyntax.FormatString) and booleans.
        string db = NewDatabase();
        await _server.QueryAsync(db, $"CREATE DATABASE \"{db}\"");
        var writer = new LineProtocolWriter();
        writer.Write("engine__types", [new("k", "v")], [new("s", "say \"hi\" \\ bye"), new("b", true), new("i", 7L), new("f", 0.1)], 1_000_000_000);
        using HttpResponseMessage response = await _server.Client.PostAsync($"write?db={db}&precision=ns", new StringContent(writer.ToString()));
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.NoContent));
        InfluxDbServer.Series series = (await _server.QueryAsync(db, "SELECT * FROM \"engine__types\"")).Single();
        Assert.Multiple(() =>
        {
            Assert.That(series[0, "s"], Is.EqualTo("say \"hi\" \\ bye"));
            Assert.That(series[0, "b"], Is.EqualTo(true));
            Assert.That(series[0, "i"], Is.EqualTo(7L));
            Assert.That(series[0, "f"], Is.EqualTo(0.1));
        });
    }

    [Test]
    public async Task The_rate_unit_option_reaches_the_server_as_unit_rate_and_scaled_rates()
    {
        string db = NewDatabase();
        using var reporter = Reporter(_server.Url, db, o => o.RateUnit = RateUnit.Seconds);
        await reporter.FlushAsync(AppMetricsGoldenTests.Report(), CancellationToken.None).AsTask().Within();
        InfluxDbServer.Series meter = (await _server.QueryAsync(db, "SELECT \"rate1m\", \"rate.mean\" FROM \"engine__items_processed\" GROUP BY \"unit_rate\"")).Single();
        Assert.Multiple(() =>
        {
            Assert.That(meter.Tags["unit_rate"], Is.EqualTo("s"));
            Assert.That(meter[0, "rate1m"], Is.EqualTo(20L).Or.EqualTo(20.0), "20/s per second");
            Assert.That(meter[0, "rate.mean"], Is.EqualTo(20L).Or.EqualTo(20.0));
            Assert.That(() => Reporter(_server.Url, db, o => o.RateUnit = (RateUnit)7), Throws.ArgumentException.With.Property("ParamName").EqualTo("options.RateUnit"));
        });
    }

    [Test]
    public async Task An_equals_sign_in_a_measurement_lands_in_the_same_measurement_escaped_or_not()
    {
        // App.Metrics writes '=' in a measurement as "\=" (LineProtocolSyntax.EscapeName); the line
        // protocol only requires commas and spaces to be escaped there, which is what we do. The
        // server reads both as the same measurement.
        string db = NewDatabase();
        await _server.QueryAsync(db, $"CREATE DATABASE \"{db}\"");
        using HttpResponseMessage response = await _server.Client.PostAsync($"write?db={db}&precision=ns", new StringContent("engine__a\\=b value=1i 1\nengine__a=b value=2i 2\n"));
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.NoContent));
        InfluxDbServer.Series measurements = (await _server.QueryAsync(db, "SHOW MEASUREMENTS")).Single();
        Assert.That(measurements.Values.Select(v => v[0]), Is.EqualTo(new[] { "engine__a=b" }));
    }

    [TestCase("back\\ slash")]
    [TestCase("a\\,b\\=c")]
    [TestCase("\\")]
    public async Task A_name_with_a_backslash_before_a_separator_or_only_backslashes_is_not_rejected(string stageName)
    {
        string db = NewDatabase();
        await using Stage<int> stage = Stage.Create(new StageOptions<int> { Name = stageName, Shards = 1, KeySelector = i => i.ToString() }, (int _, CancellationToken _) => { });
        await stage.WriteAsync(1);
        await TestWait.UntilAsync(() => stage.GetCounts().Processed == 1, "the item processed");
        var reporter = Reporter(_server.Url, db);
        await using var reporting = MetricsReporting.Create(new MetricsReportingOptions { FlushOnStop = false }).Add(stage).AddReporter(reporter);
        reporting.Start();
        await reporting.FlushAsync().Within();

        ReporterStatus status = reporting.GetStatus().Single();
        Assert.Multiple(() =>
        {
            Assert.That(status.Delivery!.Rejected, Is.Zero, "every point is valid line protocol");
            Assert.That(status.Delivery.Sent, Is.GreaterThan(0));
        });
        List<InfluxDbServer.Series> added = await _server.QueryAsync(db, "SELECT sum(\"value\") FROM \"engine__items_added\"");
        Assert.That(added.Single()[0, "sum"], Is.EqualTo(1L), "the stage's points were stored");
    }

    [Test]
    public async Task A_missing_database_is_created_on_404_only_when_asked_to()
    {
        string db = NewDatabase();
        var logger = new ListLogger();
        await using Pipeline<int> pipeline = await RunPipelineAsync("a", 5);
        var refusing = Reporter(_server.Url, db, o => { o.CreateDatabase = false; o.Name = "no-create"; }, logger);
        var creating = Reporter(_server.Url, db, o => o.Name = "create", logger);
        await using var reporting = MetricsReporting.Create(new MetricsReportingOptions { Logger = logger, FlushOnStop = false }).Add(pipeline).AddReporter(refusing);
        reporting.Start();
        await reporting.FlushAsync().Within();
        ReporterStatus status = reporting.GetStatus().Single();
        Assert.Multiple(() =>
        {
            Assert.That(status.Failed, Is.EqualTo(1));
            Assert.That(status.Delivery!.Buffered, Is.GreaterThan(0), "the points wait for a database");
            Assert.That(logger.Entries.Any(e => e.Message.Contains("database not found", StringComparison.Ordinal)), Is.True);
        });

        await using var second = MetricsReporting.Create(new MetricsReportingOptions { Logger = logger, FlushOnStop = false }).Add(pipeline).AddReporter(creating);
        second.Start();
        await second.FlushAsync().Within();
        Assert.That(second.GetStatus().Single().Succeeded, Is.EqualTo(1));
        Assert.That(await _server.QueryAsync(db, "SHOW MEASUREMENTS"), Is.Not.Empty);
    }

    [Test]
    public async Task A_flush_larger_than_the_server_accepts_is_split_and_every_point_arrives()
    {
        // A server that refuses bodies over 4 KB answers 413 to the whole flush.
        await using InfluxDbServer small = await InfluxDbServer.StartNewAsync(maxBodySize: 4_000);
        string db = NewDatabase();
        await small.Client.PostAsync("query", new FormUrlEncodedContent([new("q", $"CREATE DATABASE \"{db}\"")]));
        await using Pipeline<int> pipeline = await RunPipelineAsync("a", 5);
        var reporter = Reporter(small.Url, db);
        await using var reporting = MetricsReporting.Create(new MetricsReportingOptions { FlushOnStop = false }).Add(pipeline).AddReporter(reporter);
        reporting.Start();
        await reporting.FlushAsync().Within();
        DeliveryStatistics delivery = reporting.GetStatus().Single().Delivery!;
        Assert.Multiple(() =>
        {
            Assert.That(reporting.GetStatus().Single().Succeeded, Is.EqualTo(1));
            Assert.That(delivery.Rejected, Is.Zero);
            Assert.That(delivery.Buffered, Is.Zero);
        });

        List<InfluxDbServer.Series> count = await small.QueryAsync(db, "SELECT count(\"value\") FROM /engine__.*/");
        long stored = count.Sum(s => Convert.ToInt64(s[0, "count"], System.Globalization.CultureInfo.InvariantCulture));
        List<InfluxDbServer.Series> timers = await small.QueryAsync(db, "SELECT count(\"samples\") FROM /engine__.*/");
        List<InfluxDbServer.Series> meters = await small.QueryAsync(db, "SELECT count(\"count.meter\") FROM \"engine__items_processed\"");
        stored += timers.Sum(s => Convert.ToInt64(s[0, "count"], System.Globalization.CultureInfo.InvariantCulture)) + meters.Sum(s => Convert.ToInt64(s[0, "count"], System.Globalization.CultureInfo.InvariantCulture));
        Assert.That(stored, Is.EqualTo(delivery.Sent), "every point sent is stored once");
    }

    [Test]
    public async Task A_partial_write_is_logged_with_the_servers_message_counted_and_not_retried()
    {
        string db = NewDatabase();
        await _server.Client.PostAsync("query", new FormUrlEncodedContent([new("q", $"CREATE DATABASE \"{db}\"")]));

        // Make items_added's value a float, so the reporter's integer counters conflict.
        using HttpResponseMessage seeded = await _server.Client.PostAsync($"write?db={db}", new StringContent("engine__items_added value=1.5\n", Encoding.UTF8));
        Assert.That(seeded.StatusCode, Is.EqualTo(HttpStatusCode.NoContent));

        var logger = new ListLogger();
        await using Pipeline<int> pipeline = await RunPipelineAsync("a", 5);
        var reporter = Reporter(_server.Url, db, logger: logger);
        await using var reporting = MetricsReporting.Create(new MetricsReportingOptions { FlushOnStop = false }).Add(pipeline).AddReporter(reporter);
        reporting.Start();
        await reporting.FlushAsync().Within();
        ReporterStatus status = reporting.GetStatus().Single();
        int addedPoints = 2 * 3; // two stages, each two keyed shards and the unkeyed one
        Assert.Multiple(() =>
        {
            Assert.That(status.Succeeded, Is.EqualTo(1), "a partial write is not a failed flush: retrying cannot fix it");
            Assert.That(status.Delivery!.Rejected, Is.EqualTo(addedPoints));
            Assert.That(status.Delivery.Buffered, Is.Zero, "rejected points are not kept for another try");
            Assert.That(logger.Entries.Any(e => e.Level == LogLevel.Warning && e.Message.Contains("field type conflict", StringComparison.Ordinal)), Is.True, "the server's message is logged");
        });

        await reporting.FlushAsync().Within();
        Assert.That(reporting.GetStatus().Single().Delivery!.Rejected, Is.EqualTo(2 * addedPoints), "the next flush's own points only: nothing was retried");
    }

    [Test]
    public async Task Points_wait_while_the_server_is_not_running_and_arrive_when_it_starts()
    {
        await using InfluxDbServer later = InfluxDbServer.Create();
        string db = NewDatabase();
        await using Pipeline<int> pipeline = await RunPipelineAsync("a", 5);
        var reporter = Reporter(later.Url, db, o => o.FailuresBeforeBackoff = 100);
        await using var reporting = MetricsReporting.Create(new MetricsReportingOptions { FlushOnStop = false }).Add(pipeline).AddReporter(reporter);
        reporting.Start();
        await reporting.FlushAsync().Within();
        await reporting.FlushAsync().Within();
        ReporterStatus down = reporting.GetStatus().Single();
        Assert.Multiple(() =>
        {
            Assert.That(down.Failed, Is.EqualTo(2));
            Assert.That(down.Delivery!.Sent, Is.Zero);
            Assert.That(down.Delivery.FailedRequests, Is.EqualTo(2));
        });

        await later.StartAsync();
        await reporting.FlushAsync().Within();
        ReporterStatus up = reporting.GetStatus().Single();
        Assert.Multiple(() =>
        {
            Assert.That(up.Succeeded, Is.EqualTo(1));
            Assert.That(up.Delivery!.Buffered, Is.Zero);
            Assert.That(up.Delivery.Sent, Is.GreaterThan(down.Delivery!.Buffered), "the buffered points and the new flush's");
        });

        List<InfluxDbServer.Series> depth = await later.QueryAsync(db, "SELECT count(\"value\") FROM \"engine__queue_depth\" GROUP BY time(1ns) FILL(none)");
        Assert.That(depth.Single().Values, Has.Count.EqualTo(3), "the points of all three flushes arrived, each with its own timestamp");
    }

    [Test]
    public async Task A_frozen_then_killed_and_restarted_server_never_stalls_the_pipeline_drops_are_counted_and_delivery_resumes()
    {
        await using InfluxDbServer server = await InfluxDbServer.StartNewAsync();
        string db = NewDatabase();
        var logger = new ListLogger();
        Pipeline<int> pipeline = Pipeline.Create<int>("live")
            .Sink("store", (int _, ItemContext _, CancellationToken _) => ValueTask.CompletedTask, o => { o.KeySelector = i => (i % 4).ToString(); o.Shards = 2; })
            .Build();
        await using var _ = pipeline;
        var reporter = Reporter(server.Url, db, o => { o.MaxBufferedPoints = 150; o.FailuresBeforeBackoff = 100; o.RequestTimeout = TimeSpan.FromMinutes(5); }, logger);
        await using var reporting = MetricsReporting.Create(new MetricsReportingOptions { Logger = logger, FlushTimeout = TimeSpan.FromMinutes(5), FlushOnStop = false }).Add(pipeline).AddReporter(reporter);
        reporting.Start();
        await reporting.FlushAsync().Within();
        long pointsPerFlush = reporting.GetStatus().Single().Delivery!.Sent;

        // Frozen: the server accepts the connection and never answers, so the flush hangs...
        await server.SignalAsync("STOP");
        Task hanging = reporting.FlushAsync();

        // ...while the pipeline goes on at full speed.
        for (int i = 0; i < 5_000; i++)
        {
            await pipeline.WriteAsync(i);
        }

        await TestWait.UntilAsync(() => pipeline.GetCounts().Stages.Single().Counts.Processed == 5_000, "the pipeline processed everything while the reporter was stuck");
        Assert.That(hanging.IsCompleted, Is.False, "the flush is still waiting for the frozen server");
        await server.SignalAsync("CONT");
        await hanging.Within();

        // Killed: flushes fail, points wait, and past the bound the oldest are dropped and counted.
        await server.KillAsync();
        for (int i = 0; i < 3; i++)
        {
            await reporting.FlushAsync().Within();
        }

        ReporterStatus down = reporting.GetStatus().Single();
        Assert.Multiple(() =>
        {
            Assert.That(down.Failed, Is.EqualTo(3));
            Assert.That(down.Delivery!.Buffered, Is.EqualTo(150));
            Assert.That(down.Delivery.Dropped, Is.EqualTo((3 * pointsPerFlush) - 150), "every flush brings the same points; all beyond the bound are dropped, oldest first");
            Assert.That(logger.Entries.Any(e => e.Message.Contains("dropped the", StringComparison.Ordinal)), Is.True);
        });

        // Restarted on the same port with the same data: the buffered points arrive.
        await server.StartAsync();
        await reporting.FlushAsync().Within();
        ReporterStatus up = reporting.GetStatus().Single();
        Assert.Multiple(() =>
        {
            Assert.That(up.Delivery!.Buffered, Is.Zero);
            Assert.That(up.Succeeded, Is.GreaterThanOrEqualTo(3));
        });
        List<InfluxDbServer.Series> processed = await server.QueryAsync(db, "SELECT last(\"count.meter\") FROM \"engine__items_processed\" WHERE \"stage\" = 'store' GROUP BY \"shard\"");
        Assert.That(processed.Sum(s => (long)s[0, "last"]!), Is.EqualTo(5_000), "the newest cumulative counts reached the restarted server");
    }
}
