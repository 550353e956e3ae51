using System.Diagnostics.Metrics;
using Engine.Hosting.Tests.Support;
using Engine.Pipelines;
using Engine.Stages;
using Engine.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Engine.Hosting.Tests;

/// <summary>Pipelines and stages a host builds take their instruments from the host's <see cref="IMeterFactory"/>.</summary>
public class MeterFactoryTests
{
    [Test]
    public async Task A_hosted_pipeline_and_stage_publish_through_the_host_s_meter_factory()
    {
        var log = new ListLoggerProvider();
        HostApplicationBuilder builder = TestHost.Builder(log);
        builder.Services.AddPipeline<int>("numbers", (pipeline, context) => pipeline
            .Sink("collect", (_, _) => ValueTask.CompletedTask, context.Stage<int>(o => o.KeySelector = n => n)));
        builder.Services.AddStage<int>("alone", (_, _) => ValueTask.CompletedTask, o => o.KeySelector = n => n);
        using IHost host = builder.Build();
        IMeterFactory factory = host.Services.GetRequiredService<IMeterFactory>();

        // Only instruments of meters the host's factory made: the engine's static meter is left out.
        var processed = new Dictionary<string, long>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == EngineTelemetry.MeterName && ReferenceEquals(instrument.Meter.Scope, factory) && instrument.Name == "engine.items.processed")
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            string stage = tags.ToArray().Single(t => t.Key == "stage").Value as string ?? "";
            processed[stage] = processed.GetValueOrDefault(stage) + value;
        });
        listener.Start();

        await host.StartAsync().Within();
        await host.Services.GetRequiredKeyedService<Pipeline<int>>("numbers").WriteAsync(1);
        Stage<int> alone = host.Services.GetRequiredKeyedService<Stage<int>>("alone");
        await alone.WriteAsync(1);
        await alone.WriteAsync(2);
        await TestWait.UntilAsync(
            () =>
            {
                processed.Clear();
                listener.RecordObservableInstruments();
                return processed.GetValueOrDefault("collect") == 1 && processed.GetValueOrDefault("alone") == 2;
            },
            "the host's meter shows both stages' processed items");
        await host.StopAsync().Within();
    }
}
