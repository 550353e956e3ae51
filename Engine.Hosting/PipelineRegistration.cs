using System.Diagnostics.Metrics;
using Engine.Pipelines;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Engine.Hosting;

/// <summary>A pipeline added with <see cref="EngineServiceCollectionExtensions.AddPipeline{TIn}"/>.</summary>
/// <typeparam name="TIn">The pipeline's input type.</typeparam>
internal sealed class PipelineRegistration<TIn> : EngineRegistration
{
    private readonly Func<PipelineBuilder<TIn>, PipelineContext, PipelineBuilder<TIn>> _build;

    public PipelineRegistration(string name, Func<PipelineBuilder<TIn>, PipelineContext, PipelineBuilder<TIn>> build)
        : base("pipeline", name)
    {
        _build = build;
    }

    public override EngineInstance Create(IServiceProvider services)
    {
        PipelineSettings settings = services.GetRequiredService<IOptionsMonitor<PipelineSettings>>().Get(Name);
        EngineHostingOptions hosting = services.GetRequiredService<IOptions<EngineHostingOptions>>().Value;
        TimeProvider clock = services.GetService<TimeProvider>() ?? TimeProvider.System;
        var context = new PipelineContext(Name, services, settings, services.GetRequiredService<ItemLog>());

        // The host's IMeterFactory (registered by AddMetrics, which the generic host calls) makes the
        // pipeline's instruments, so they live and are disposed with the host's meters; without one,
        // the engine's static meter.
        IMeterFactory? meters = services.GetService<IMeterFactory>();
        PipelineBuilder<TIn> builder = _build(Pipeline.Create<TIn>(Name, clock, settings.Metrics ?? true, meters), context)
            ?? throw new InvalidOperationException($"The build callback of pipeline '{Name}' returned null; return the builder that the last Sink returned.");
        Pipeline<TIn> pipeline = builder.Build();

        // A stage named in configuration but not configured through the context would keep the code's
        // values without a word; that is a mistake to stop at, not to run with.
        string[] unused = [.. settings.Stages.Keys.Where(s => !context.ConfiguredStages.Contains(s))];
        if (unused.Length > 0)
        {
            string stages = string.Join(", ", pipeline.GetCounts().Stages.Select(s => s.Stage));

            // Nothing has been written yet, so the abort is immediate.
            pipeline.AbortAsync().AsTask().GetAwaiter().GetResult();
            throw new InvalidOperationException(
                $"{EngineSections.Pipelines}:{Name}:Stages names {string.Join(", ", unused.Select(s => $"'{s}'"))}, which pipeline '{Name}' has not configured through PipelineContext.Stage " +
                $"(a misspelt name, or a stage whose configure callback is not context.Stage<T>(...)). Its stages: {stages}.");
        }

        return new PipelineInstance<TIn>(pipeline, settings.DrainTimeout ?? hosting.DrainTimeout);
    }
}
