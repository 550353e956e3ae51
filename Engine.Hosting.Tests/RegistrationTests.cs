using System.Collections.Concurrent;
using Engine.Hosting.Tests.Support;
using Engine.Pipelines;
using Engine.Stages;
using Engine.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Engine.Hosting.Tests;

public class RegistrationTests
{
    [Test]
    public async Task A_pipeline_is_resolved_by_name_and_runs_once_the_host_starts()
    {
        var log = new ListLoggerProvider();
        var seen = new ConcurrentBag<int>();
        var allSeen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        HostApplicationBuilder builder = TestHost.Builder(log);
        builder.Services.AddPipeline<int>("numbers", (pipeline, context) => pipeline
            .Then<int>("double", (n, _) => ValueTask.FromResult(n * 2), context.Stage<int>(o => o.KeySelector = n => n))
            .Sink("collect", (n, _) =>
            {
                seen.Add(n);
                if (seen.Count == 3)
                {
                    allSeen.TrySetResult();
                }

                return ValueTask.CompletedTask;
            }, context.Stage<int>()));
        using IHost host = builder.Build();
        await host.StartAsync().Within();

        Pipeline<int> numbers = host.Services.GetRequiredKeyedService<Pipeline<int>>("numbers");
        foreach (int n in new[] { 1, 2, 3 })
        {
            await numbers.WriteAsync(n);
        }

        await allSeen.Task.Within();
        Assert.That(seen, Is.EquivalentTo(new[] { 2, 4, 6 }));
        Assert.That(host.Services.GetRequiredKeyedService<Pipeline<int>>("numbers"), Is.SameAs(numbers));
        await host.StopAsync().Within();
    }

    [Test]
    public async Task A_stage_takes_its_settings_from_configuration_over_the_code()
    {
        var log = new ListLoggerProvider();
        HostApplicationBuilder builder = TestHost.Builder(log, null, ("Engine:Stages:save:Shards", "7"), ("Engine:Stages:save:Capacity", "3"));
        builder.Services.AddStage<string>("save", (_, _) => ValueTask.CompletedTask, o => o.Shards = 2);
        using IHost host = builder.Build();
        await host.StartAsync().Within();

        Stage<string> save = host.Services.GetRequiredKeyedService<Stage<string>>("save");
        await using Stage<string> reference = Stage.Create(new StageOptions<string> { Name = "reference", Shards = 7 }, (_, _) => ValueTask.CompletedTask);
        Assert.That(save.ShardCount, Is.EqualTo(reference.ShardCount));
        await host.StopAsync().Within();
    }

    [Test]
    public void An_invalid_setting_fails_the_start_naming_its_key()
    {
        var log = new ListLoggerProvider();
        HostApplicationBuilder builder = TestHost.Builder(log, null, ("Engine:Pipelines:orders:Stages:work:Shards", "0"));
        builder.Services.AddPipeline<int>("orders", (pipeline, context) => pipeline.Sink("work", (_, _) => ValueTask.CompletedTask, context.Stage<int>()));
        using IHost host = builder.Build();

        var error = Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.That(error!.Message, Does.Contain("Engine:Pipelines:orders:Stages:work:Shards"));
    }

    [Test]
    public void An_invalid_hosting_option_fails_the_start_naming_its_key()
    {
        var log = new ListLoggerProvider();
        HostApplicationBuilder builder = TestHost.Builder(log, null, ("Engine:Hosting:LogLimit", "0"));
        builder.Services.AddStage<int>("work", (_, _) => ValueTask.CompletedTask);
        using IHost host = builder.Build();

        var error = Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.That(error!.Message, Does.Contain("Engine:Hosting:LogLimit"));
    }

    [Test]
    public void A_stage_named_in_configuration_that_the_pipeline_lacks_fails_the_start()
    {
        var log = new ListLoggerProvider();
        HostApplicationBuilder builder = TestHost.Builder(log, null, ("Engine:Pipelines:orders:Stages:wrok:Shards", "2"));
        builder.Services.AddPipeline<int>("orders", (pipeline, context) => pipeline.Sink("work", (_, _) => ValueTask.CompletedTask, context.Stage<int>()));
        using IHost host = builder.Build();

        var error = Assert.ThrowsAsync<InvalidOperationException>(() => host.StartAsync());
        Assert.That(error!.Message, Does.Contain("'wrok'").And.Contain("Its stages: work"));
    }

    [Test]
    public void Bad_stage_options_from_code_fail_the_start_naming_the_option()
    {
        var log = new ListLoggerProvider();
        HostApplicationBuilder builder = TestHost.Builder(log);
        builder.Services.AddStage<int>("work", (_, _) => ValueTask.CompletedTask, o => o.Capacity = -1);
        using IHost host = builder.Build();

        var error = Assert.ThrowsAsync<ArgumentException>(() => host.StartAsync());
        Assert.That(error!.Message, Does.Contain("Capacity"));
    }

    [Test]
    public void A_name_registered_twice_is_refused()
    {
        var services = new ServiceCollection();
        services.AddStage<int>("work", (_, _) => ValueTask.CompletedTask);

        var error = Assert.Throws<ArgumentException>(() => services.AddStage<int>("work", (_, _) => ValueTask.CompletedTask));
        Assert.That(error!.Message, Does.Contain("'work'"));
    }
}
