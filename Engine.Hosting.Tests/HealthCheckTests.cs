using Engine.Hosting.Tests.Support;
using Engine.Loops;
using Engine.Reporting;
using Engine.Stages;
using Engine.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;

namespace Engine.Hosting.Tests;

public class HealthCheckTests
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(5);

    [Test]
    public async Task A_stage_whose_queue_stays_deep_is_degraded_only_after_DeepFor()
    {
        var log = new ListLoggerProvider();
        var clock = new WatchedTimeProvider();
        var gate = new Gate();
        HostApplicationBuilder builder = Builder(log, clock, ("Engine:Health:DepthThreshold", "3"), ("Engine:Health:DeepFor", "00:00:10"));
        builder.Services.AddStage<int>("save", async (_, ct) => await gate.PassAsync(ct), o => o.KeySelector = _ => "one key");
        using IHost host = builder.Build();
        await host.StartAsync().Within();
        Stage<int> save = host.Services.GetRequiredKeyedService<Stage<int>>("save");
        for (int i = 0; i < 5; i++)
        {
            await save.WriteAsync(i);
        }

        await gate.StartedAsync();
        Assert.That((await SampleAsync(host, clock, 1)).Status, Is.EqualTo(HealthStatus.Healthy), "deep since now");
        Assert.That((await SampleAsync(host, clock, 2)).Status, Is.EqualTo(HealthStatus.Healthy), "deep for 5 s");
        HealthReport report = await SampleAsync(host, clock, 3);
        Assert.That(report.Status, Is.EqualTo(HealthStatus.Degraded));
        Assert.That(report.Entries["engine"].Description, Does.Contain("stage 'save' has had 4 or more items waiting for 10 s"));

        gate.Open();
        await TestWait.UntilAsync(() => save.GetCounts().Waiting == 0, "the queue drains");
        Assert.That((await SampleAsync(host, clock, 4)).Status, Is.EqualTo(HealthStatus.Healthy));
        await host.StopAsync().Within();
    }

    [Test]
    public async Task A_stage_that_dead_letters_faster_than_the_threshold_is_degraded_while_it_does()
    {
        var log = new ListLoggerProvider();
        var clock = new WatchedTimeProvider();
        HostApplicationBuilder builder = Builder(log, clock, ("Engine:Health:DeadLettersPerSecond", "0.5"));
        builder.Services.AddStage<int>("save", (_, _) => throw new InvalidDataException("bad row"));
        using IHost host = builder.Build();
        await host.StartAsync().Within();
        Stage<int> save = host.Services.GetRequiredKeyedService<Stage<int>>("save");
        for (int i = 0; i < 3; i++)
        {
            await save.WriteAsync(i);
        }

        await TestWait.UntilAsync(() => save.GetCounts().DeadLettered == 3, "three dead letters");
        HealthReport report = await SampleAsync(host, clock, 1);
        Assert.That(report.Status, Is.EqualTo(HealthStatus.Degraded));
        Assert.That(report.Entries["engine"].Description, Does.Contain("stage 'save' dead-lettered 3 items in the last 5.0 s (0.60/s, threshold 0.50/s)"));
        Assert.That((await SampleAsync(host, clock, 2)).Status, Is.EqualTo(HealthStatus.Healthy), "no dead letter in the next interval");
        await host.StopAsync().Within();
    }

    [Test]
    public async Task A_loop_that_stops_succeeding_is_degraded()
    {
        var log = new ListLoggerProvider();
        var clock = new WatchedTimeProvider();
        HostApplicationBuilder builder = Builder(log, clock, ("Engine:Health:LoopStaleAfter", "00:00:04"));
        builder.Services.AddPeriodicLoop(
            "resync",
            _ => _ => throw new InvalidOperationException("source down"),
            o =>
            {
                o.Interval = TimeSpan.FromHours(1);
                o.RunAtStart = true;
            });
        using IHost host = builder.Build();
        await host.StartAsync().Within();
        var loop = host.Services.GetRequiredKeyedService<PeriodicLoop>("resync");
        await TestWait.UntilAsync(() => loop.GetMetrics().FailedRuns == 1, "the first run fails");

        HealthReport report = await SampleAsync(host, clock, 1);
        Assert.That(report.Status, Is.EqualTo(HealthStatus.Degraded));
        Assert.That(report.Entries["engine"].Description, Does.Contain("loop 'resync' has not succeeded yet (0 runs succeeded, 1 failed; stale after 4 s)"));
        await host.StopAsync().Within();
    }

    [Test]
    public async Task A_reporter_that_keeps_failing_is_degraded()
    {
        var log = new ListLoggerProvider();
        var clock = new WatchedTimeProvider();
        HostApplicationBuilder builder = Builder(log, clock, ("Engine:Health:ReporterFailures", "2"));
        builder.Services.AddStage<int>("save", (_, _) => ValueTask.CompletedTask);
        builder.Services.AddSingleton<IMetricsReporter>(new FailingReporter());
        using IHost host = builder.Build();
        await host.StartAsync().Within();
        ReportingHostedService reporting = host.Services.GetRequiredService<ReportingHostedService>();

        // The reporter flushes every second of fake time (one periodic timer): two failed flushes, then a sample.
        await clock.AdvanceToTimerAsync(TimeSpan.FromSeconds(1));
        await TestWait.UntilAsync(() => reporting.GetStatus()[0].Failed == 1, "the first flush fails");
        clock.Advance(TimeSpan.FromSeconds(1));
        await TestWait.UntilAsync(() => reporting.GetStatus()[0].Failed == 2, "the second flush fails");
        EngineMonitor monitor = host.Services.GetRequiredService<EngineMonitor>();
        monitor.Sample();

        HealthReport report = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync().Within();
        Assert.That(report.Status, Is.EqualTo(HealthStatus.Degraded));
        Assert.That(report.Entries["engine"].Description, Does.Contain("reporter 'failing' failed 2 times in a row (threshold 2)"));
        await host.StopAsync().Within();
    }

    [Test]
    public async Task A_faulted_pipeline_is_reported()
    {
        var log = new ListLoggerProvider();
        var clock = new WatchedTimeProvider();
        HostApplicationBuilder builder = Builder(log, clock);
        builder.Services.AddPipeline<string>("orders", (pipeline, context) => pipeline
            .Then<string>("parse", (s, _) => ValueTask.FromResult(s), context.Stage<string>())
            .Sink("save", (_, _) => ValueTask.CompletedTask, context.Stage<string>(o => o.KeySelector = _ => throw new FormatException("no key"))));
        using IHost host = builder.Build();
        await host.StartAsync().Within();
        var orders = host.Services.GetRequiredKeyedService<Pipelines.Pipeline<string>>("orders");
        await orders.WriteAsync("x");
        Assert.That(async () => await orders.Completion.Within(), Throws.InstanceOf<Pipelines.PipelineFaultedException>());

        HealthReport report = await SampleAsync(host, clock, 1);
        Assert.That(report.Status, Is.EqualTo(HealthStatus.Degraded));
        Assert.That(report.Entries["engine"].Description, Does.Contain("pipeline 'orders' faulted"));
        await host.StopAsync().Within();
    }

    [Test]
    public async Task With_nothing_registered_the_check_is_healthy()
    {
        var log = new ListLoggerProvider();
        HostApplicationBuilder builder = TestHost.Builder(log);
        builder.Services.AddHealthChecks().AddEngineHealthCheck();
        using IHost host = builder.Build();
        await host.StartAsync().Within();

        HealthReport report = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync().Within();
        Assert.That(report.Status, Is.EqualTo(HealthStatus.Healthy));
        await host.StopAsync().Within();
    }

    private static HostApplicationBuilder Builder(ListLoggerProvider log, WatchedTimeProvider clock, params (string Key, string Value)[] settings)
    {
        HostApplicationBuilder builder = TestHost.Builder(log, clock, [("Engine:Hosting:MonitorInterval", "00:00:05"), .. settings]);
        builder.Services.AddHealthChecks().AddEngineHealthCheck();
        return builder;
    }

    /// <summary>Moves the fake clock to the monitor's next sample, waits for that sample, and runs the health checks.</summary>
    private static async Task<HealthReport> SampleAsync(IHost host, WatchedTimeProvider clock, long sample)
    {
        EngineMonitor monitor = host.Services.GetRequiredService<EngineMonitor>();
        await clock.AdvanceToTimerAsync(Interval);
        await TestWait.UntilAsync(() => monitor.Samples == sample, $"sample {sample}");
        return await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync().Within();
    }

    private sealed class FailingReporter : IMetricsReporter
    {
        public string Name => "failing";

        public TimeSpan FlushInterval => TimeSpan.FromSeconds(1);

        public DeliveryStatistics? Delivery => null;

        public ValueTask FlushAsync(MetricsReport report, CancellationToken cancellationToken) =>
            ValueTask.FromException(new HttpRequestException("backend down"));
    }
}
