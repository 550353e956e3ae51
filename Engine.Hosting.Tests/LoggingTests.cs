using Engine.Hosting.Tests.Support;
using Engine.Stages;
using Engine.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Engine.Hosting.Tests;

public class LoggingTests
{
    [Test]
    public async Task Dead_letters_and_handler_errors_are_logged_with_stage_and_key_and_rate_limited()
    {
        var log = new ListLoggerProvider();
        var clock = new WatchedTimeProvider();
        HostApplicationBuilder builder = TestHost.Builder(
            log,
            clock,
            ("Engine:Hosting:LogLimit", "2"),
            ("Engine:Hosting:LogWindow", "00:01:00"),
            ("Engine:Hosting:MonitorInterval", "01:00:00"));
        builder.Services.AddStage<string>("save", (_, _) => throw new InvalidDataException("bad row"), o => o.KeySelector = s => s);
        using IHost host = builder.Build();
        await host.StartAsync().Within();
        Stage<string> save = host.Services.GetRequiredKeyedService<Stage<string>>("save");
        foreach (string key in new[] { "k1", "k2", "k3", "k4", "k5" })
        {
            await save.WriteAsync(key);
        }

        await TestWait.UntilAsync(() => save.GetCounts().DeadLettered == 5, "five dead letters");
        string[] deadLetters = [.. log.Messages(LogLevel.Error).Where(m => m.Contains("dead-lettered"))];
        Assert.That(deadLetters, Has.Length.EqualTo(2));
        Assert.That(deadLetters, Has.All.Match(@"^Stage 'save' dead-lettered item k[1-5] after 1 attempt\(s\)\.$"));
        Assert.That(log.Messages(LogLevel.Warning).Count(m => m.Contains("the handler failed for item")), Is.EqualTo(2));

        // The window ends: the next dead letter is logged after one line summing up those held back.
        clock.Advance(TimeSpan.FromMinutes(1));
        await save.WriteAsync("k6");

        // The stage counts a dead letter before its callback runs (and logs), so wait for the log line itself.
        await TestWait.UntilAsync(() => log.Messages(LogLevel.Error).Any(m => m.Contains("item k6 after 1 attempt(s)")), "the sixth dead letter logged");
        Assert.That(log.Messages(LogLevel.Warning), Has.Some.Contains("Stage 'save': 3 more dead letters were not logged (at most 2 per 00:01:00)."));
        await host.StopAsync().Within();
    }

    [Test]
    public async Task A_throwing_callback_is_logged_and_still_counted_by_the_stage()
    {
        var log = new ListLoggerProvider();
        HostApplicationBuilder builder = TestHost.Builder(log);
        builder.Services.AddPipeline<string>("orders", (pipeline, context) => pipeline
            .Sink("save", (_, _) => throw new InvalidDataException("bad row"), context.Stage<string>(o =>
            {
                o.KeySelector = s => s;
                o.OnDeadLetter = (_, _) => throw new InvalidOperationException("callback bug");
            })));
        using IHost host = builder.Build();
        await host.StartAsync().Within();
        var orders = host.Services.GetRequiredKeyedService<Pipelines.Pipeline<string>>("orders");
        await orders.WriteAsync("order-7");
        await TestWait.UntilAsync(() => orders.GetCounts()["save"].CallbackErrors == 1, "the callback error is counted");

        Assert.That(log.Messages(LogLevel.Warning), Has.Some.Contains("Stage 'orders/save': the OnDeadLetter callback threw for item order-7"));
        Assert.That(log.Messages(LogLevel.Error), Has.Some.Contains("Stage 'orders/save' dead-lettered item order-7"));
        await host.StopAsync().Within();
    }

    [Test]
    public async Task Logging_can_be_turned_off()
    {
        var log = new ListLoggerProvider();
        HostApplicationBuilder builder = TestHost.Builder(log, null, ("Engine:Hosting:LogItems", "false"));
        builder.Services.AddStage<string>("save", (_, _) => throw new InvalidDataException("bad row"), o => o.KeySelector = s => s);
        using IHost host = builder.Build();
        await host.StartAsync().Within();
        Stage<string> save = host.Services.GetRequiredKeyedService<Stage<string>>("save");
        await save.WriteAsync("k1");
        await TestWait.UntilAsync(() => save.GetCounts().DeadLettered == 1, "a dead letter");

        // Completion waits for the dead letter's callback too (the stage counts it first), so nothing can still be logged.
        save.Complete();
        await save.Completion.Within();
        Assert.That(log.Messages(), Has.None.Contains("dead-lettered").And.None.Contains("handler failed"));
        await host.StopAsync().Within();
    }

    [Test]
    public async Task A_dropped_item_is_logged_with_its_reason()
    {
        var log = new ListLoggerProvider();
        var gate = new Gate();
        HostApplicationBuilder builder = TestHost.Builder(log);
        builder.Services.AddStage<int>("save", async (_, ct) => await gate.PassAsync(ct), o =>
        {
            o.Capacity = 1;
            o.FullMode = StageFullMode.DropOldest;
        });
        using IHost host = builder.Build();
        await host.StartAsync().Within();
        Stage<int> save = host.Services.GetRequiredKeyedService<Stage<int>>("save");
        await save.WriteAsync(1);
        await gate.StartedAsync();
        await save.WriteAsync(2);   // waits in the unkeyed shard's channel
        await save.WriteAsync(3);   // the channel is full: item 2 is dropped

        Assert.That(save.GetCounts().DroppedOldest, Is.EqualTo(1));
        Assert.That(log.Messages(LogLevel.Warning), Has.Some.Contains("Stage 'save' dropped item (unkeyed): DropOldest."));
        gate.Open();
        await host.StopAsync().Within();
    }

    [Test]
    public async Task A_pipeline_stage_s_handler_errors_are_logged_with_the_item_s_key()
    {
        var log = new ListLoggerProvider();
        HostApplicationBuilder builder = TestHost.Builder(log);
        builder.Services.AddPipeline<string>("orders", (pipeline, context) => pipeline
            .Sink("save", (_, _) => throw new InvalidDataException("bad row"), context.Stage<string>(o => o.KeySelector = s => s)));
        using IHost host = builder.Build();
        await host.StartAsync().Within();
        var orders = host.Services.GetRequiredKeyedService<Pipelines.Pipeline<string>>("orders");
        await orders.WriteAsync("a");
        await orders.WriteAsync("b");

        // The stage reports each failed run (OnHandlerError) before it dead-letters the item.
        await TestWait.UntilAsync(() => log.Messages(LogLevel.Warning).Count(m => m.Contains("the handler failed for item")) == 2, "both failures logged");
        Assert.That(log.Messages(LogLevel.Warning), Has.Some.Contains("Stage 'orders/save': the handler failed for item a"));
        Assert.That(log.Messages(LogLevel.Warning), Has.Some.Contains("Stage 'orders/save': the handler failed for item b"));
        await host.StopAsync().Within();
    }
}
