using Engine.Loops;
using Engine.Pipelines;
using Engine.Stages;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Engine.Hosting;

/// <summary>
/// Registers Engine pipelines, stages and loops in a service collection. Each is a named singleton
/// (resolve it with <c>GetRequiredKeyedService&lt;Pipeline&lt;T&gt;&gt;(name)</c> or
/// <c>[FromKeyedServices(name)]</c>), created when the host starts, with settings bound from
/// configuration and validated on start, logged through the host's <c>ILogger</c>, drained when the
/// host stops, and reported by the hosted <c>MetricsReporting</c> (<see cref="EngineReportingOptions"/>).
/// </summary>
/// <remarks>
/// The first call also registers the two hosted services. The host stops hosted services in the
/// reverse of their registration order, so register the services that write into a pipeline
/// <em>after</em> it: they stop first, then the pipeline drains, then reporting makes its final flush.
/// </remarks>
public static class EngineServiceCollectionExtensions
{
    /// <summary>
    /// Adds a pipeline named <paramref name="name"/>. When the host starts, <paramref name="build"/> gets a
    /// builder made with the host's <see cref="TimeProvider"/> and returns it extended with the stages
    /// (ending in a sink); pass <c>context.Stage&lt;T&gt;(...)</c> as each stage's configure callback so it
    /// takes its settings from <c>Engine:Pipelines:{name}:Stages:{stage}</c> and logs its dead letters,
    /// drops and callback errors. The pipeline drains for up to its <see cref="PipelineSettings.DrainTimeout"/> when the host stops.
    /// </summary>
    /// <typeparam name="TIn">The pipeline's input type.</typeparam>
    /// <param name="services">The service collection.</param>
    /// <param name="name">The pipeline's name: its DI key, metrics dimension and configuration section.</param>
    /// <param name="build">Adds the stages: <c>(pipeline, context) =&gt; pipeline.Then(...).Sink(...)</c>.</param>
    /// <returns>The service collection.</returns>
    /// <exception cref="ArgumentException"><paramref name="name"/> is blank or already names a pipeline here.</exception>
    public static IServiceCollection AddPipeline<TIn>(this IServiceCollection services, string name, Func<PipelineBuilder<TIn>, PipelineContext, PipelineBuilder<TIn>> build)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(build);
        Register(services, name, new PipelineRegistration<TIn>(name, build));
        AddCheck<PipelineSettings>(services, EngineSections.Pipelines, name);
        services.AddOptions<PipelineSettings>(name).BindConfiguration($"{EngineSections.Pipelines}:{name}").ValidateOnStart();
        services.AddKeyedSingleton(name, (sp, _) => (Pipeline<TIn>)sp.GetRequiredService<EngineInstances>().Get("pipeline", name).Target);
        return services;
    }

    /// <summary>
    /// Adds a stand-alone stage named <paramref name="name"/>, created when the host starts from
    /// <paramref name="configure"/> and then <c>Engine:Stages:{name}</c> (a value set there wins); its
    /// handler failures, dead letters, drops and callback errors are logged with the item key.
    /// </summary>
    /// <typeparam name="T">The item type.</typeparam>
    /// <param name="services">The service collection.</param>
    /// <param name="name">The stage's name: its DI key, metrics dimension and configuration section.</param>
    /// <param name="handler">Makes the handler from the host's services.</param>
    /// <param name="configure">Configures the stage's options (key selector, dedupe, retry, ...), or null.</param>
    /// <returns>The service collection.</returns>
    /// <exception cref="ArgumentException"><paramref name="name"/> is blank or already names a stage here.</exception>
    public static IServiceCollection AddStage<T>(this IServiceCollection services, string name, Func<IServiceProvider, Func<T, ItemContext, CancellationToken, ValueTask>> handler, Action<StageOptions<T>>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(handler);
        Register(services, name, new StageRegistration<T>(name, handler, configure));
        AddCheck<StageSettings>(services, EngineSections.Stages, name);
        services.AddOptions<StageSettings>(name).BindConfiguration($"{EngineSections.Stages}:{name}").ValidateOnStart();
        services.AddKeyedSingleton(name, (sp, _) => (Stage<T>)sp.GetRequiredService<EngineInstances>().Get("stage", name).Target);
        return services;
    }

    /// <summary>As <see cref="AddStage{T}(IServiceCollection, string, Func{IServiceProvider, Func{T, ItemContext, CancellationToken, ValueTask}}, Action{StageOptions{T}}?)"/>, with a handler that needs no services.</summary>
    /// <typeparam name="T">The item type.</typeparam>
    /// <param name="services">The service collection.</param>
    /// <param name="name">The stage's name.</param>
    /// <param name="handler">The handler.</param>
    /// <param name="configure">Configures the stage's options, or null.</param>
    /// <returns>The service collection.</returns>
    public static IServiceCollection AddStage<T>(this IServiceCollection services, string name, Func<T, CancellationToken, ValueTask> handler, Action<StageOptions<T>>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return services.AddStage<T>(name, _ => (item, _, cancellationToken) => handler(item, cancellationToken), configure);
    }

    /// <summary>
    /// Adds a periodic loop named <paramref name="name"/> (see <see cref="PeriodicLoop"/>), started with the
    /// host on its <see cref="TimeProvider"/> and stopped first when the host stops (before the pipelines drain).
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="name">The loop's name: its DI key and metrics dimension.</param>
    /// <param name="job">Makes the job from the host's services.</param>
    /// <param name="configure">Configures the loop (interval, run at start), or null.</param>
    /// <returns>The service collection.</returns>
    /// <exception cref="ArgumentException"><paramref name="name"/> is blank or already names a loop here.</exception>
    public static IServiceCollection AddPeriodicLoop(this IServiceCollection services, string name, Func<IServiceProvider, Func<CancellationToken, ValueTask<LoopRun>>> job, Action<PeriodicLoopOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(job);
        Register(services, name, new LoopRegistration(name, job, configure));
        services.AddKeyedSingleton(name, (sp, _) => (PeriodicLoop)sp.GetRequiredService<EngineInstances>().Get("loop", name).Target);
        return services;
    }

    /// <summary>
    /// Configures the hosted metrics reporting in code, on top of <c>Engine:Reporting</c> (see
    /// <see cref="EngineReportingOptions"/>); reporting runs with the first pipeline, stage or loop.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Sets reporters and tags.</param>
    /// <returns>The service collection.</returns>
    public static IServiceCollection AddEngineReporting(this IServiceCollection services, Action<EngineReportingOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        AddCore(services);
        services.Configure(configure);
        return services;
    }

    private static void Register(IServiceCollection services, string name, EngineRegistration registration)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (services.Any(d => d.ServiceType == typeof(EngineRegistration) && d.ImplementationInstance is EngineRegistration r && r.Kind == registration.Kind && r.Name == registration.Name))
        {
            throw new ArgumentException($"A {registration.Kind} named '{registration.Name}' is already registered; each needs a unique name.", nameof(name));
        }

        AddCore(services);
        services.AddSingleton(registration);
    }

    private static void AddCheck<TOptions>(IServiceCollection services, string section, string? name)
        where TOptions : class =>
        services.AddSingleton<IConfigureOptions<TOptions>>(sp => new SectionCheck<TOptions>(section, name, sp.GetService<IConfiguration>()));

    /// <summary>What every registration (and the health check) needs, added once.</summary>
    internal static void AddCore(IServiceCollection services)
    {
        if (services.Any(d => d.ServiceType == typeof(EngineInstances)))
        {
            return;
        }

        services.TryAddSingleton(TimeProvider.System);

        // Each section's keys and values are checked before its binding (registered first, so run first):
        // see SectionCheck. Engine:Hosting's check also checks Engine itself.
        services.AddSingleton<IConfigureOptions<EngineHostingOptions>>(sp => new SectionCheck<EngineHostingOptions>(EngineSections.Hosting, null, sp.GetService<IConfiguration>(), sp.GetServices<EngineRegistration>()));
        AddCheck<EngineHealthOptions>(services, EngineSections.Health, null);
        AddCheck<EngineReportingOptions>(services, EngineSections.Reporting, null);
        services.AddOptions<EngineHostingOptions>().BindConfiguration(EngineSections.Hosting).ValidateOnStart();
        services.AddOptions<EngineHealthOptions>().BindConfiguration(EngineSections.Health).ValidateOnStart();
        services.AddOptions<EngineReportingOptions>().BindConfiguration(EngineSections.Reporting).ValidateOnStart();
        services.AddSingleton<IValidateOptions<EngineHostingOptions>>(new SectionValidator<EngineHostingOptions>(EngineSections.Hosting, named: false));
        services.AddSingleton<IValidateOptions<EngineHealthOptions>>(new SectionValidator<EngineHealthOptions>(EngineSections.Health, named: false));
        services.AddSingleton<IValidateOptions<EngineReportingOptions>>(new SectionValidator<EngineReportingOptions>(EngineSections.Reporting, named: false));
        services.AddSingleton<IValidateOptions<PipelineSettings>>(new SectionValidator<PipelineSettings>(EngineSections.Pipelines, named: true));
        services.AddSingleton<IValidateOptions<StageSettings>>(new SectionValidator<StageSettings>(EngineSections.Stages, named: true));
        services.AddSingleton(sp => new ItemLog(
            sp.GetService<ILoggerFactory>()?.CreateLogger("Engine.Hosting") ?? NullLogger.Instance,
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<IOptions<EngineHostingOptions>>().Value));
        services.AddSingleton<EngineInstances>();
        services.AddSingleton<EngineMonitor>();
        services.AddSingleton<ReportingHostedService>();
        services.AddSingleton<EngineHostedService>();

        // Reporting first: it starts first and stops last, after the drain (see the remarks above).
        services.AddSingleton<IHostedService>(sp => sp.GetRequiredService<ReportingHostedService>());
        services.AddSingleton<IHostedService>(sp => sp.GetRequiredService<EngineHostedService>());
    }
}
