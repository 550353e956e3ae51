using System.Diagnostics.Metrics;
using Engine.Stages;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Engine.Hosting;

/// <summary>A stand-alone stage added with <see cref="EngineServiceCollectionExtensions.AddStage{T}(IServiceCollection, string, Func{IServiceProvider, Func{T, ItemContext, CancellationToken, ValueTask}}, Action{StageOptions{T}}?)"/>.</summary>
/// <typeparam name="T">The stage's item type.</typeparam>
internal sealed class StageRegistration<T> : EngineRegistration
{
    private readonly Func<IServiceProvider, Func<T, ItemContext, CancellationToken, ValueTask>> _handler;
    private readonly Action<StageOptions<T>>? _configure;

    public StageRegistration(string name, Func<IServiceProvider, Func<T, ItemContext, CancellationToken, ValueTask>> handler, Action<StageOptions<T>>? configure)
        : base("stage", name)
    {
        _handler = handler;
        _configure = configure;
    }

    public override EngineInstance Create(IServiceProvider services)
    {
        StageSettings settings = services.GetRequiredService<IOptionsMonitor<StageSettings>>().Get(Name);
        EngineHostingOptions hosting = services.GetRequiredService<IOptions<EngineHostingOptions>>().Value;
        ItemLog log = services.GetRequiredService<ItemLog>();
        // The host's IMeterFactory makes the stage's instruments (see PipelineRegistration); a configure
        // callback may still set its own.
        var options = new StageOptions<T>
        {
            Name = Name,
            TimeProvider = services.GetService<TimeProvider>() ?? TimeProvider.System,
            MeterFactory = services.GetService<IMeterFactory>(),
        };
        _configure?.Invoke(options);
        options.Name = Name;
        settings.ApplyTo(options);
        StageLogging.Apply(options, Name, log);
        Func<T, ItemContext, CancellationToken, ValueTask> handler = _handler(services)
            ?? throw new InvalidOperationException($"The handler factory of stage '{Name}' returned null.");
        Stage<T> stage = Stage.Create(options, handler);
        return new StageInstance<T>(stage, settings.DrainTimeout ?? hosting.DrainTimeout);
    }
}
