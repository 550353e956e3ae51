using Engine.Hosting.Tests.Support;
using Engine.Pipelines;
using Engine.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Engine.Hosting.Tests;

public class ShutdownTests
{
    [Test]
    public async Task Stopping_the_host_drains_what_the_pipeline_holds()
    {
        var log = new ListLoggerProvider();
        var gate = new Gate();
        int handled = 0;
        HostApplicationBuilder builder = TestHost.Builder(log);
        builder.Services.AddPipeline<int>("orders", (pipeline, context) => pipeline
            .Sink("save", async (_, ct) =>
            {
                await gate.PassAsync(ct);
                Interlocked.Increment(ref handled);
            }, context.Stage<int>()));
        using IHost host = builder.Build();
        await host.StartAsync().Within();
        Pipeline<int> orders = host.Services.GetRequiredKeyedService<Pipeline<int>>("orders");
        for (int i = 0; i < 3; i++)
        {
            await orders.WriteAsync(i);
        }

        await gate.StartedAsync();
        Task stopping = host.StopAsync();
        gate.Open();
        await stopping.Within();

        Assert.That(handled, Is.EqualTo(3));
        Assert.That(orders.GetCounts().Abandoned, Is.Zero);
        Assert.That(log.Messages(LogLevel.Information), Has.Some.Contains("'orders' drained: orders/save: 3 processed"));
    }

    [Test]
    public async Task The_drained_line_gives_each_stage_s_own_counts_not_their_sum()
    {
        var log = new ListLoggerProvider();
        HostApplicationBuilder builder = TestHost.Builder(log);
        builder.Services.AddPipeline<int>("orders", (pipeline, context) => pipeline
            .Then<int>("price", (n, _) => ValueTask.FromResult(n), context.Stage<int>(o => o.KeySelector = n => n))
            .Sink("save", (_, _) => ValueTask.CompletedTask, context.Stage<int>()));
        using IHost host = builder.Build();
        await host.StartAsync().Within();
        Pipeline<int> orders = host.Services.GetRequiredKeyedService<Pipeline<int>>("orders");
        for (int i = 0; i < 5; i++)
        {
            await orders.WriteAsync(i);
        }

        await host.StopAsync().Within();
        Assert.That(
            log.Messages(LogLevel.Information),
            Has.Some.Contains("'orders' drained: orders/price: 5 processed, 0 dead-lettered, 0 dropped, 0 superseded; orders/save: 5 processed, 0 dead-lettered, 0 dropped, 0 superseded."));
    }

    [Test]
    public async Task A_pipeline_that_does_not_drain_in_time_is_aborted_and_what_it_abandoned_is_logged()
    {
        var log = new ListLoggerProvider();
        var clock = new WatchedTimeProvider();
        var gate = new Gate();
        HostApplicationBuilder builder = TestHost.Builder(
            log,
            clock,
            ("Engine:Pipelines:orders:DrainTimeout", "00:00:07"),
            ("Engine:Hosting:MonitorInterval", "01:00:00"));
        builder.Services.AddPipeline<int>("orders", (pipeline, context) => pipeline
            .Sink("save", async (_, ct) => await gate.PassAsync(ct), context.Stage<int>(o => o.KeySelector = _ => "one key")));
        using IHost host = builder.Build();
        await host.StartAsync().Within();
        Pipeline<int> orders = host.Services.GetRequiredKeyedService<Pipeline<int>>("orders");
        for (int i = 0; i < 3; i++)
        {
            await orders.WriteAsync(i);
        }

        await gate.StartedAsync();
        Task stopping = host.StopAsync();
        await clock.AdvanceToTimerAsync(TimeSpan.FromSeconds(7));
        await stopping.Within();

        Assert.That(orders.GetCounts().Abandoned, Is.EqualTo(3));
        Assert.That(
            log.Messages(LogLevel.Warning),
            Has.Some.Contains("'orders' did not drain within 00:00:07").And.Some.Contains("3 item(s) abandoned: orders/save=3"));
    }

    [Test]
    public async Task Stopping_the_host_logs_what_is_left_to_drain()
    {
        var log = new ListLoggerProvider();
        var gate = new Gate();
        HostApplicationBuilder builder = TestHost.Builder(log);
        builder.Services.AddStage<int>("save", async (_, ct) => await gate.PassAsync(ct), o => o.KeySelector = _ => "one key");
        using IHost host = builder.Build();
        await host.StartAsync().Within();
        var save = host.Services.GetRequiredKeyedService<Stages.Stage<int>>("save");
        for (int i = 0; i < 4; i++)
        {
            await save.WriteAsync(i);
        }

        await gate.StartedAsync();
        Task stopping = host.StopAsync();
        await TestWait.UntilAsync(() => log.Messages().Any(m => m.Contains("Draining stage 'save'")), "the drain is announced");
        gate.Open();
        await stopping.Within();

        Assert.That(log.Messages(), Has.Some.Contains("Draining stage 'save' for up to 00:00:30: 4 item(s) left."));
    }
}
