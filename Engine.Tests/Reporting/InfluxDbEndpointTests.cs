using System.Text;
using Engine.Reporting;
using Engine.Stages;
using Engine.Tests.Support;
using Microsoft.Extensions.Logging;

namespace Engine.Tests.Reporting;

/// <summary>
/// The InfluxDB reporter's requests and its answers to status codes, against a local HTTP server: the
/// 2.x endpoint (no 2.x server is available here), 1.x authentication, Retry-After, back-off and
/// request time-outs on a fake clock.
/// </summary>
public class InfluxDbEndpointTests
{
    private static async Task<(MetricsReporting Reporting, Stage<int> Stage)> ReportingAsync(InfluxDbReporterOptions options, TimeProvider time, ILogger? logger = null)
    {
        options.TimeProvider = time;
        options.FlushInterval = TimeSpan.FromHours(1);
        options.Logger = logger ?? new ListLogger();
        Stage<int> stage = Stage.Create(new StageOptions<int> { Name = "s", Shards = 1, KeySelector = i => i.ToString(), TimeProvider = time }, (int _, CancellationToken _) => { });
        await stage.WriteAsync(1);
        var reporting = MetricsReporting.Create(new MetricsReportingOptions { TimeProvider = time, FlushOnStop = false, FlushTimeout = TimeSpan.FromMinutes(10) })
            .Add(stage).AddReporter(new InfluxDbReporter(options));
        reporting.Start();
        return (reporting, stage);
    }

    [Test]
    public async Task The_2x_endpoint_gets_org_bucket_nanosecond_precision_and_the_token()
    {
        using var server = new LocalHttpServer();
        var time = new WatchedTimeProvider();
        (MetricsReporting reporting, Stage<int> stage) = await ReportingAsync(new InfluxDbReporterOptions { Url = server.Url + "/", Organization = "my org", Bucket = "engine/b", Token = "s3cret" }, time);
        await using (stage)
        await using (reporting)
        {
            await reporting.FlushAsync().Within();
            LocalHttpServer.Request request = await server.NextAsync();
            Assert.Multiple(() =>
            {
                Assert.That(request.Method, Is.EqualTo("POST"));
                Assert.That(request.Path, Is.EqualTo("/api/v2/write"));
                Assert.That(request.Query, Is.EqualTo(new Dictionary<string, string> { ["org"] = "my org", ["bucket"] = "engine/b", ["precision"] = "ns" }));
                Assert.That(request.Headers["Authorization"], Is.EqualTo("Token s3cret"));
                Assert.That(request.Headers["Content-Type"], Does.StartWith("text/plain"));
                Assert.That(request.Body, Does.Contain("engine__items_added,stage=s,shard=0,"));
                Assert.That(request.Body, Does.EndWith("\n"));
                Assert.That(request.Body.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l[(l.LastIndexOf(' ') + 1)..]).Distinct().Single(),
                    Is.EqualTo(AppMetricsFormatter.Nanoseconds(time.GetUtcNow()).ToString(System.Globalization.CultureInfo.InvariantCulture)), "one nanosecond timestamp per flush");
                Assert.That(reporting.GetStatus().Single().Succeeded, Is.EqualTo(1));
            });
        }
    }

    [Test]
    public async Task The_1x_endpoint_gets_database_retention_policy_and_basic_authentication()
    {
        using var server = new LocalHttpServer();
        (MetricsReporting reporting, Stage<int> stage) = await ReportingAsync(new InfluxDbReporterOptions { Url = server.Url + "/base", Database = "engine db", RetentionPolicy = "week", Username = "u", Password = "p:w" }, new WatchedTimeProvider());
        await using (stage)
        await using (reporting)
        {
            await reporting.FlushAsync().Within();
            LocalHttpServer.Request request = await server.NextAsync();
            Assert.Multiple(() =>
            {
                Assert.That(request.Path, Is.EqualTo("/base/write"));
                Assert.That(request.Query, Is.EqualTo(new Dictionary<string, string> { ["db"] = "engine db", ["rp"] = "week", ["precision"] = "ns" }));
                Assert.That(request.Headers["Authorization"], Is.EqualTo("Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("u:p:w"))));
            });
        }
    }

    [Test]
    public async Task A_503_with_Retry_After_is_honoured_without_sending_until_it_has_passed()
    {
        using var server = new LocalHttpServer { Respond = _ => new LocalHttpServer.Answer(503, "{\"error\":\"overloaded\"}", [("Retry-After", "120")]) };
        var time = new WatchedTimeProvider();
        (MetricsReporting reporting, Stage<int> stage) = await ReportingAsync(new InfluxDbReporterOptions { Url = server.Url, Database = "db", FailuresBeforeBackoff = 100 }, time);
        await using (stage)
        await using (reporting)
        {
            await reporting.FlushAsync().Within();
            time.Advance(TimeSpan.FromSeconds(119));
            await reporting.FlushAsync().Within();
            Assert.That(server.Received, Has.Count.EqualTo(1), "no request while the server asked to wait");
            long buffered = reporting.GetStatus().Single().Delivery!.Buffered;

            server.Respond = _ => new LocalHttpServer.Answer(204);
            time.Advance(TimeSpan.FromSeconds(1));
            await reporting.FlushAsync().Within();
            ReporterStatus status = reporting.GetStatus().Single();
            Assert.Multiple(() =>
            {
                Assert.That(server.Received, Has.Count.EqualTo(2));
                Assert.That(status.Failed, Is.EqualTo(2));
                Assert.That(status.Succeeded, Is.EqualTo(1));
                Assert.That(status.Delivery!.Buffered, Is.Zero);
                Assert.That(status.Delivery.Sent, Is.GreaterThan(buffered), "the points of all three flushes went out");
            });
        }
    }

    [Test]
    public async Task Consecutive_failures_back_off_exponentially_per_reporter()
    {
        using var server = new LocalHttpServer { Respond = _ => new LocalHttpServer.Answer(500, "{\"error\":\"boom\"}") };
        var time = new WatchedTimeProvider();
        var logger = new ListLogger();
        (MetricsReporting reporting, Stage<int> stage) = await ReportingAsync(new InfluxDbReporterOptions { Url = server.Url, Database = "db", FailuresBeforeBackoff = 2, Backoff = TimeSpan.FromSeconds(10), MaxBackoff = TimeSpan.FromSeconds(25) }, time, logger);
        await using (stage)
        await using (reporting)
        {
            async Task<int> FlushAfter(double seconds)
            {
                time.Advance(TimeSpan.FromSeconds(seconds));
                await reporting.FlushAsync().Within();
                return server.Received.Count;
            }

            int[] requests =
            [
                await FlushAfter(0), // 1st failure
                await FlushAfter(0), // 2nd: back off 10 s
                await FlushAfter(9.9), // still backing off
                await FlushAfter(0.1), // 3rd failure: back off 20 s
                await FlushAfter(19.9),
                await FlushAfter(0.1), // 4th failure: back off 25 s (the cap)
                await FlushAfter(24.9),
                await FlushAfter(0.1),
            ];
            Assert.That(requests, Is.EqualTo(new[] { 1, 2, 2, 3, 3, 4, 4, 5 }));
            Assert.That(logger.Entries.Count(e => e.Message.Contains("backing off", StringComparison.Ordinal)), Is.EqualTo(4));
            Assert.That(logger.Entries.Any(e => e.Message.Contains("HTTP 500: boom", StringComparison.Ordinal)), Is.True, "the server's message is logged");
        }
    }

    [Test]
    public async Task A_422_is_logged_with_the_servers_message_and_the_points_are_not_retried()
    {
        using var server = new LocalHttpServer { Respond = _ => new LocalHttpServer.Answer(422, "{\"code\":\"unprocessable entity\",\"message\":\"points beyond retention\"}") };
        var logger = new ListLogger();
        (MetricsReporting reporting, Stage<int> stage) = await ReportingAsync(new InfluxDbReporterOptions { Url = server.Url, Organization = "o", Bucket = "b", Token = "t" }, new WatchedTimeProvider(), logger);
        await using (stage)
        await using (reporting)
        {
            await reporting.FlushAsync().Within();
            await reporting.FlushAsync().Within();
            ReporterStatus status = reporting.GetStatus().Single();
            Assert.Multiple(() =>
            {
                Assert.That(server.Received, Has.Count.EqualTo(2), "each flush sent its own points once");
                Assert.That(status.Delivery!.Buffered, Is.Zero);
                Assert.That(status.Delivery.Rejected, Is.GreaterThan(0));
                Assert.That(status.Delivery.Sent, Is.Zero);
                Assert.That(logger.Entries.Any(e => e.Message.Contains("HTTP 422: points beyond retention", StringComparison.Ordinal)), Is.True);
            });
        }
    }

    /// <summary>
    /// InfluxDB 1.x answers a batch with some unparseable lines by storing the rest and saying
    /// "partial write: unable to parse '…': … dropped=0" (influxd 1.6 counts only type conflicts in dropped=).
    /// </summary>
    [TestCase(10)]
    [TestCase(600)]
    public async Task A_partial_write_with_an_unparseable_point_counts_that_point_rejected_and_the_rest_sent(int badLineLength)
    {
        string bad = "engine__x,stage=" + new string('x', badLineLength) + " value=1i 1";
        using var server = new LocalHttpServer { Respond = _ => new LocalHttpServer.Answer(400, $"{{\"error\":\"partial write: unable to parse '{bad}': missing tag value dropped=0\"}}") };
        (MetricsReporting reporting, Stage<int> stage) = await ReportingAsync(new InfluxDbReporterOptions { Url = server.Url, Database = "db" }, new WatchedTimeProvider());
        await using (stage)
        await using (reporting)
        {
            await reporting.FlushAsync().Within();
            int points = (await server.NextAsync()).Body.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
            DeliveryStatistics delivery = reporting.GetStatus().Single().Delivery!;
            Assert.Multiple(() =>
            {
                Assert.That(delivery.Rejected, Is.EqualTo(1), "the unparseable point");
                Assert.That(delivery.Sent, Is.EqualTo(points - 1), "the server stored the others");
                Assert.That(delivery.Buffered, Is.Zero);
            });
        }
    }

    [Test]
    public async Task A_request_that_gets_no_answer_fails_after_the_request_timeout_and_keeps_its_points()
    {
        using var server = new LocalHttpServer { Respond = _ => null };
        var time = new WatchedTimeProvider();
        (MetricsReporting reporting, Stage<int> stage) = await ReportingAsync(new InfluxDbReporterOptions { Url = server.Url, Database = "db", RequestTimeout = TimeSpan.FromSeconds(5) }, time);
        await using (stage)
        await using (reporting)
        {
            Task flush = reporting.FlushAsync();
            await server.NextAsync();
            Assert.That(flush.IsCompleted, Is.False);
            time.Advance(TimeSpan.FromSeconds(5));
            await flush.Within();
            ReporterStatus status = reporting.GetStatus().Single();
            Assert.Multiple(() =>
            {
                Assert.That(status.Failed, Is.EqualTo(1));
                Assert.That(status.Delivery!.FailedRequests, Is.EqualTo(1));
                Assert.That(status.Delivery.Buffered, Is.GreaterThan(0));
            });
        }
    }

    [Test]
    public void Bad_options_fail_at_creation_naming_the_option()
    {
        static string? ParamOf(Action<InfluxDbReporterOptions> configure)
        {
            var options = new InfluxDbReporterOptions { Url = "http://127.0.0.1:8086", Database = "db" };
            configure(options);
            try
            {
                using var reporter = new InfluxDbReporter(options);
                return null;
            }
            catch (ArgumentException ex)
            {
                return ex.ParamName;
            }
        }

        Assert.Multiple(() =>
        {
            Assert.That(ParamOf(o => o.Url = "not a url"), Is.EqualTo("options.Url"));
            Assert.That(ParamOf(o => o.Url = "ftp://127.0.0.1"), Is.EqualTo("options.Url"));
            Assert.That(ParamOf(o => o.Url = null), Is.EqualTo("options.Url"));
            Assert.That(ParamOf(o => o.Database = null), Is.EqualTo("options.Database"));
            Assert.That(ParamOf(o => o.Database = " "), Is.EqualTo("options.Database"));
            Assert.That(ParamOf(o => { o.Database = null; o.Organization = "o"; o.Bucket = "b"; }), Is.EqualTo("options.Token"));
            Assert.That(ParamOf(o => { o.Organization = "o"; o.Bucket = "b"; o.Token = "t"; }), Is.EqualTo("options.Database"));
            Assert.That(ParamOf(o => o.BatchSize = 0), Is.EqualTo("options.BatchSize"));
            Assert.That(ParamOf(o => o.MaxBufferedPoints = 0), Is.EqualTo("options.MaxBufferedPoints"));
            Assert.That(ParamOf(o => o.RequestTimeout = TimeSpan.Zero), Is.EqualTo("options.RequestTimeout"));
            Assert.That(ParamOf(o => o.FlushInterval = TimeSpan.FromDays(2)), Is.EqualTo("options.FlushInterval"));
            Assert.That(ParamOf(o => o.Password = "p"), Is.EqualTo("options.Username"));
            Assert.That(ParamOf(o => o.Name = ""), Is.EqualTo("options.Name"));
            Assert.That(ParamOf(_ => { }), Is.Null);
        });
    }
}
