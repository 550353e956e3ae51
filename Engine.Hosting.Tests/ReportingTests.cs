using System.Collections.Concurrent;
using Engine.Hosting.Tests.Support;
using Engine.Pipelines;
using Engine.Reporting;
using Engine.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Engine.Hosting.Tests;

public class ReportingTests
{
    [Test]
    public async Task Reporting_runs_as_a_hosted_service_and_its_final_flush_sees_the_drained_pipeline()
    {
        var log = new ListLoggerProvider();
        var reporter = new RecordingReporter();
        HostApplicationBuilder builder = TestHost.Builder(log, null, ("Engine:Reporting:App", "orders-service"));
        builder.Services.AddSingleton<IMetricsReporter>(reporter);
        var gate = new Gate();
        builder.Services.AddPipeline<int>("orders", (pipeline, context) => pipeline
            .Sink("save", async (_, ct) => await gate.PassAsync(ct), context.Stage<int>()));
        using IHost host = builder.Build();
        await host.StartAsync().Within();
        Pipeline<int> orders = host.Services.GetRequiredKeyedService<Pipeline<int>>("orders");
        await orders.WriteAsync(1);
        await orders.WriteAsync(2);
        await gate.StartedAsync();
        Task stopping = host.StopAsync();
        gate.Open();
        await stopping.Within();

        MetricsReport final = reporter.Reports.Single(r => r.IsFinal);
        Assert.That(final.Tags.App, Is.EqualTo("orders-service"));
        Assert.That(final.Pipelines.Single().Stages.Single().Counts.Processed, Is.EqualTo(2), "reporting stopped after the drain");
    }

    [Test]
    public async Task The_console_reporter_is_configured_from_configuration()
    {
        var log = new ListLoggerProvider();
        HostApplicationBuilder builder = TestHost.Builder(log, null, ("Engine:Reporting:Console:FlushInterval", "01:00:00"), ("Engine:Reporting:Console:Name", "screen"));
        builder.Services.AddStage<int>("save", (_, _) => ValueTask.CompletedTask);
        using IHost host = builder.Build();
        await host.StartAsync().Within();

        IReadOnlyList<ReporterStatus> status = host.Services.GetRequiredService<ReportingHostedService>().GetStatus();
        Assert.That(status.Select(s => s.Reporter), Is.EqualTo(new[] { "screen" }));
        Assert.That(log.Messages(), Has.Some.Contains("Engine metrics reporting started: screen."));
        await host.StopAsync().Within();
    }

    [Test]
    public void An_invalid_InfluxDB_url_fails_the_start_naming_its_key()
    {
        var log = new ListLoggerProvider();
        HostApplicationBuilder builder = TestHost.Builder(log, null, ("Engine:Reporting:InfluxDb:Url", "not a url"), ("Engine:Reporting:InfluxDb:Database", "engine"));
        builder.Services.AddStage<int>("save", (_, _) => ValueTask.CompletedTask);
        using IHost host = builder.Build();

        var error = Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.That(error!.Message, Does.Contain("Engine:Reporting:InfluxDb:Url"));
    }

    [Test]
    public async Task Reporting_configured_in_code_writes_its_final_flush_on_stop()
    {
        var log = new ListLoggerProvider();
        using var screen = new StringWriter();
        HostApplicationBuilder builder = TestHost.Builder(log);
        builder.Services.AddStage<int>("save", (_, _) => ValueTask.CompletedTask);
        builder.Services.AddEngineReporting(o => o.Console = new ConsoleReporterOptions { Writer = screen, FlushInterval = TimeSpan.FromHours(1) });
        using IHost host = builder.Build();
        await host.StartAsync().Within();
        await host.Services.GetRequiredKeyedService<Stages.Stage<int>>("save").WriteAsync(1);
        await host.StopAsync().Within();

        Assert.That(screen.ToString(), Does.Contain("(final)").And.Contain("save"));
    }

    [Test]
    public async Task An_InfluxDB_reporter_is_configured_from_configuration_and_what_it_could_not_deliver_is_logged()
    {
        var log = new ListLoggerProvider();
        HostApplicationBuilder builder = TestHost.Builder(
            log,
            null,
            ("Engine:Reporting:InfluxDb:Url", "http://127.0.0.1:9"),   // discard port on loopback: nothing listens
            ("Engine:Reporting:InfluxDb:Database", "engine"),
            ("Engine:Reporting:InfluxDb:FlushInterval", "01:00:00"));
        builder.Services.AddStage<int>("save", (_, _) => ValueTask.CompletedTask);
        using IHost host = builder.Build();
        await host.StartAsync().Within();
        ReportingHostedService reporting = host.Services.GetRequiredService<ReportingHostedService>();
        Assert.That(reporting.GetStatus().Select(s => s.Reporter), Is.EqualTo(new[] { "influxdb" }));
        await host.StopAsync().Within();

        Assert.That(log.Messages(Microsoft.Extensions.Logging.LogLevel.Warning), Has.Some.Contains("Metrics reporter 'influxdb' stopped with").And.Some.Contains("abandoned"));
    }

    [Test]
    public async Task A_metrics_source_registered_in_the_container_is_reported()
    {
        var log = new ListLoggerProvider();
        var reporter = new RecordingReporter();
        HostApplicationBuilder builder = TestHost.Builder(log);
        builder.Services.AddSingleton<IMetricsReporter>(reporter);
        builder.Services.AddSingleton<IMetricsSource>(new QueueSource());
        builder.Services.AddEngineReporting(_ => { });
        using IHost host = builder.Build();
        await host.StartAsync().Within();
        await host.StopAsync().Within();

        SourceMetricsSnapshot source = reporter.Reports.Single(r => r.IsFinal).Sources.Single();
        Assert.That(source.Failed, Is.False, string.Join("\n", log.Messages()));
        Assert.Multiple(() =>
        {
            Assert.That(source.Source, Is.EqualTo("queue"));
            Assert.That(source.Points.Single().Name, Is.EqualTo("orders_backlog"));
            Assert.That(source.Points.Single().Value, Is.EqualTo(42));
        });
    }

    private sealed class QueueSource : IMetricsSource
    {
        public string Name => "queue";

        public void WritePoints(MetricPointWriter points) => points.Gauge("orders_backlog", "items", 42);
    }

    private sealed class RecordingReporter : IMetricsReporter
    {
        public ConcurrentQueue<MetricsReport> Reports { get; } = new();

        public string Name => "recording";

        public TimeSpan FlushInterval => TimeSpan.FromHours(1);

        public DeliveryStatistics? Delivery => null;

        public ValueTask FlushAsync(MetricsReport report, CancellationToken cancellationToken)
        {
            Reports.Enqueue(report);
            return ValueTask.CompletedTask;
        }
    }
}
