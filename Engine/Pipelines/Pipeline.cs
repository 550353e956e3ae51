using Engine.Pipelines.Nodes;

namespace Engine.Pipelines;

/// <summary>Starts building pipelines.</summary>
public static class Pipeline
{
    /// <summary>Starts a pipeline whose input is <typeparamref name="TIn"/>.</summary>
    /// <typeparam name="TIn">The input type.</typeparam>
    /// <param name="name">The pipeline's name (for errors and metrics).</param>
    /// <param name="timeProvider">The clock for entry timestamps, batch windows, retries and drain timeouts; stages use it unless configured otherwise. The default is <see cref="TimeProvider.System"/>.</param>
    /// <param name="metrics">Whether the pipeline's stages record timings (each stage's <see cref="Stages.StageOptions{T}.Metrics"/> starts from this; a stage's own setting wins). The default value is true.</param>
    /// <param name="meterFactory">
    /// Where the pipeline's stages get the <c>Engine</c> meter from (each stage's <see cref="Stages.StageOptions{T}.MeterFactory"/>
    /// starts from this; a stage's own setting wins): a host's factory, from dependency injection. The
    /// default (null) is the engine's own static meter.
    /// </param>
    /// <returns>The builder: continue it with stages, then <see cref="PipelineBuilder{TIn}.Build"/>.</returns>
    /// <exception cref="ArgumentException"><paramref name="name"/> is null or blank.</exception>
    public static PipelineBuilder<TIn> Create<TIn>(string name, TimeProvider? timeProvider = null, bool metrics = true, System.Diagnostics.Metrics.IMeterFactory? meterFactory = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        var runtime = new PipelineRuntime(name, timeProvider ?? TimeProvider.System) { MetricsEnabled = metrics, MeterFactory = meterFactory };
        return new PipelineBuilder<TIn>(runtime, new SourceNode<TIn>(runtime));
    }
}
