using Engine.Hosting;
using Engine.Pipelines;
using Engine.Retry;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Engine.Testing.Tests;

/// <summary>A pipeline registered with Engine.Hosting, built on the harness's clock by the host itself.</summary>
public class HostedPipelineTests
{
    [Test]
    public async Task A_hosted_pipeline_built_on_the_harness_clock_is_driven_by_the_harness()
    {
        await using var harness = new EngineHarness();
        SinkProbe<string> saved = harness.Sink<string>((order, ctx, ct) => ctx.Attempt == 1 && order == "order-2" ? ValueTask.FromException(new TimeoutException()) : default);

        HostApplicationBuilder builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddSingleton<TimeProvider>(harness.Clock);   // every part the host builds runs on the harness's clock
        builder.Services.AddPipeline<string>("orders", (pipeline, context) => pipeline
            .Sink("save", saved.HandleAsync, context.Stage<string>(o =>
            {
                o.KeySelector = order => order;
                o.Retry = new RetryOptions { MaxAttempts = 3, BaseDelay = TimeSpan.FromSeconds(1), JitterRatio = 0 };
            })));
        using IHost host = builder.Build();
        await host.StartAsync();
        Pipeline<string> orders = host.Services.GetRequiredKeyedService<Pipeline<string>>("orders");

        SourceProbe<string> source = harness.Source(orders);
        source.Send("order-1", "order-2", "order-3");
        await harness.RunUntilIdleAsync();
        Assert.That(saved.Items, Is.EquivalentTo(new[] { "order-1", "order-3" }));
        Assert.That(harness.View<string>("save", "orders").Counts.Pending, Is.EqualTo(1));

        await harness.AdvanceAsync(TimeSpan.FromSeconds(1));
        Assert.That(saved.Items, Is.EquivalentTo(new[] { "order-1", "order-3", "order-2" }));
        Assert.That(saved.Received.Single(r => r.Item == "order-2").Attempt, Is.EqualTo(2));

        await host.StopAsync();
        Assert.That(orders.Completion.IsCompletedSuccessfully, Is.True);
    }
}
