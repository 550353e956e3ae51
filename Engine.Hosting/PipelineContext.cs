using Engine.Stages;

namespace Engine.Hosting;

/// <summary>
/// What a pipeline's build callback (<see cref="EngineServiceCollectionExtensions.AddPipeline{TIn}"/>)
/// gets besides the builder: the host's services, and <see cref="Stage{T}"/>, which makes a stage's
/// configure callback take the stage's settings from configuration and log its outcomes.
/// </summary>
public sealed class PipelineContext
{
    private readonly PipelineSettings _settings;
    private readonly ItemLog _log;
    private readonly HashSet<string> _configured = new(StringComparer.OrdinalIgnoreCase);

    internal PipelineContext(string pipeline, IServiceProvider services, PipelineSettings settings, ItemLog log)
    {
        Pipeline = pipeline;
        Services = services;
        _settings = settings;
        _log = log;
    }

    /// <summary>The pipeline's name.</summary>
    public string Pipeline { get; }

    /// <summary>The host's services, to resolve what the handlers need.</summary>
    public IServiceProvider Services { get; }

    /// <summary>The names of the stages configured through <see cref="Stage{T}"/> so far.</summary>
    internal IReadOnlyCollection<string> ConfiguredStages => _configured;

    /// <summary>
    /// A configure callback for one of the pipeline's stages: it runs <paramref name="configure"/>, then
    /// applies the stage's settings from <c>Engine:Pipelines:{pipeline}:Stages:{stage}</c> (a value set
    /// there wins over the code's), then wires the stage's dead letters, drops and callback errors to
    /// the host's log (with the stage and the item key, rate-limited; see <see cref="EngineHostingOptions"/>).
    /// A stage configured without it gets neither, and naming it in configuration fails the host's start.
    /// </summary>
    /// <typeparam name="T">The stage's input type.</typeparam>
    /// <param name="configure">The code's configuration of the stage, or null.</param>
    /// <returns>The callback to pass to <c>Then</c>, <c>Sink</c>, <c>SinkTarget</c> or <c>StageTarget</c>.</returns>
    public Action<StageOptions<T>> Stage<T>(Action<StageOptions<T>>? configure = null) => options =>
    {
        configure?.Invoke(options);

        // The builder set options.Name before calling back, and sets it again afterwards.
        if (_settings.Stages.TryGetValue(options.Name, out StageSettings? settings))
        {
            settings.ApplyTo(options);
        }

        _configured.Add(options.Name);
        StageLogging.Apply(options, $"{Pipeline}/{options.Name}", _log);
    };
}
