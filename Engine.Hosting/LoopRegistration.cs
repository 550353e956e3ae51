using System.Diagnostics.Metrics;
using Engine.Loops;
using Microsoft.Extensions.DependencyInjection;

namespace Engine.Hosting;

/// <summary>A periodic loop added with <see cref="EngineServiceCollectionExtensions.AddPeriodicLoop"/>.</summary>
internal sealed class LoopRegistration : EngineRegistration
{
    private readonly Func<IServiceProvider, Func<CancellationToken, ValueTask<LoopRun>>> _job;
    private readonly Action<PeriodicLoopOptions>? _configure;

    public LoopRegistration(string name, Func<IServiceProvider, Func<CancellationToken, ValueTask<LoopRun>>> job, Action<PeriodicLoopOptions>? configure)
        : base("loop", name)
    {
        _job = job;
        _configure = configure;
    }

    public override EngineInstance Create(IServiceProvider services)
    {
        var options = new PeriodicLoopOptions
        {
            Name = Name,
            TimeProvider = services.GetService<TimeProvider>() ?? TimeProvider.System,
            MeterFactory = services.GetService<IMeterFactory>(),
        };
        _configure?.Invoke(options);
        options.Name = Name;
        Func<CancellationToken, ValueTask<LoopRun>> job = _job(services)
            ?? throw new InvalidOperationException($"The job factory of loop '{Name}' returned null.");
        return new LoopInstance(PeriodicLoop.Start(options, job), options.Interval);
    }
}
