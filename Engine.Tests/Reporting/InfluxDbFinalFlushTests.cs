using Engine.Reporting;
using Engine.Stages;
using Engine.Tests.Support;
using Microsoft.Extensions.Logging;

namespace Engine.Tests.Reporting;

/// <summary>
/// What stopping the scheduler does with the InfluxDB reporter's buffer: the final flush tries to
/// deliver it whether or not the reporter is backing off, and what it cannot deliver is counted and
/// logged. The clock is fake, so a back-off lasts until the test says otherwise.
/// </summary>
[NonParallelizable]
public class InfluxDbFinalFlushTests
{
    private static readonly TimeSpan LongBackoff = TimeSpan.FromHours(1);

    private static Stage<int> CreateStage(TimeProvider time) =>
        Stage.Create(new StageOptions<int> { Name = "s", Shards = 1, KeySelector = i => i.ToString(), TimeProvider = time }, (int _, CancellationToken _) => { });

    /// <summary>A reporter that backs off for an hour after its first failed request.</summary>
    private static InfluxDbReporter Reporter(Uri url, TimeProvider time, ILogger logger) => new(new InfluxDbReporterOptions
    {
        Url = url.ToString(),
        Database = "engine",
        FlushInterval = TimeSpan.FromHours(1),
        FailuresBeforeBackoff = 1,
        Backoff = LongBackoff,
        MaxBackoff = LongBackoff,
        TimeProvider = time,
        Logger = logger,
    });

    [Test]
    public async Task The_final_flush_delivers_everything_buffered_while_the_reporter_backs_off()
    {
        await using InfluxDbServer server = await InfluxDbServer.StartNewAsync();
        var time = new WatchedTimeProvider();
        var logger = new ListLogger();
        await using Stage<int> stage = CreateStage(time);
        await stage.WriteAsync(1);
        var reporting = MetricsReporting.Create(new MetricsReportingOptions { TimeProvider = time, Logger = logger })
            .Add(stage).AddReporter(Reporter(server.Url, time, logger));
        reporting.Start();
        await reporting.FlushAsync().Within();
        Assert.That(reporting.GetStatus().Single().Succeeded, Is.EqualTo(1), "the server took the first flush");

        // Down: one failed request starts an hour of back-off, during which a flush only buffers.
        await server.KillAsync();
        time.Advance(TimeSpan.FromSeconds(10));
        await reporting.FlushAsync().Within();
        time.Advance(TimeSpan.FromSeconds(10));
        await reporting.FlushAsync().Within();
        DeliveryStatistics down = reporting.GetStatus().Single().Delivery!;
        Assert.Multiple(() =>
        {
            Assert.That(down.FailedRequests, Is.EqualTo(1), "the third flush sent nothing: the reporter is backing off");
            Assert.That(down.Buffered, Is.GreaterThan(0));
        });

        // Up again, still inside the back-off: stopping must deliver the buffer and the final report.
        await server.StartAsync();
        time.Advance(TimeSpan.FromSeconds(10));
        await reporting.StopAsync().Within();
        ReporterStatus stopped = reporting.GetStatus().Single();
        Assert.Multiple(() =>
        {
            Assert.That(stopped.Delivery!.Buffered, Is.Zero, () => "everything buffered was delivered; status " + stopped);
            Assert.That(stopped.Delivery.FailedRequests, Is.EqualTo(1), "the final flush's requests succeeded");
            Assert.That(stopped.Succeeded, Is.EqualTo(2), "the first flush and the final one");
        });

        List<InfluxDbServer.Series> depth = await server.QueryAsync("engine", "SELECT \"value\" FROM \"engine__queue_depth\"");
        long[] timestamps = [.. depth.Single().Values.Select(v => (long)v[0]!).Distinct()];
        Assert.Multiple(() =>
        {
            Assert.That(timestamps, Has.Length.EqualTo(4), "the points of all four flushes reached the server, each with its own timestamp");
            Assert.That(timestamps.Max(), Is.EqualTo(AppMetricsFormatter.Nanoseconds(time.GetUtcNow())), "the final report's points among them");
        });
    }

    [Test]
    public async Task Stop_against_a_closed_port_tries_a_final_delivery_then_counts_and_logs_the_points_it_abandons()
    {
        var closed = new Uri($"http://127.0.0.1:{InfluxDbServer.FreePort()}/");
        var time = new WatchedTimeProvider();
        var logger = new ListLogger();
        await using Stage<int> stage = CreateStage(time);
        await stage.WriteAsync(1);
        var reporting = MetricsReporting.Create(new MetricsReportingOptions { TimeProvider = time, Logger = logger })
            .Add(stage).AddReporter(Reporter(closed, time, logger));
        reporting.Start();
        await reporting.FlushAsync().Within();
        DeliveryStatistics backingOff = reporting.GetStatus().Single().Delivery!;
        Assert.That(backingOff.FailedRequests, Is.EqualTo(1), "connection refused: the reporter backs off for an hour");

        await reporting.StopAsync().Within();
        ReporterStatus stopped = reporting.GetStatus().Single();
        DeliveryStatistics delivery = stopped.Delivery!;
        Assert.Multiple(() =>
        {
            Assert.That(delivery.FailedRequests, Is.EqualTo(2), "the final flush sent a request despite the back-off");
            Assert.That(stopped.Failed, Is.EqualTo(2), "and it failed");
            Assert.That(delivery.Sent, Is.Zero);
            Assert.That(delivery.Buffered, Is.Zero, "nothing is left waiting in a disposed reporter");
            Assert.That(delivery.Abandoned, Is.GreaterThan(backingOff.Buffered), "the points buffered before stopping and the final report's");
            Assert.That(
                logger.Entries.Where(e => e.Level == LogLevel.Warning && e.Message.Contains("abandoned", StringComparison.Ordinal)).Select(e => e.Message),
                Is.EqualTo(new[] { $"Metrics reporter 'influxdb' stopped with {delivery.Abandoned} points it could not deliver; they are abandoned." }),
                "one warning, with the count");
        });
    }
}
