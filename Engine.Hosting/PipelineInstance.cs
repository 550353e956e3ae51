using Engine.Pipelines;
using Engine.Reporting;

namespace Engine.Hosting;

/// <summary>A hosted pipeline.</summary>
/// <typeparam name="TIn">The pipeline's input type.</typeparam>
internal sealed class PipelineInstance<TIn> : EngineInstance
{
    private readonly Pipeline<TIn> _pipeline;

    public PipelineInstance(Pipeline<TIn> pipeline, TimeSpan drainTimeout)
        : base("pipeline", pipeline.Name, drainTimeout)
    {
        _pipeline = pipeline;
    }

    public override object Target => _pipeline;

    public override Task Completion => _pipeline.Completion;

    public override IReadOnlyList<PipelineStageCounts> GetStageCounts() => Label(_pipeline.GetCounts());

    public override async ValueTask<IReadOnlyList<PipelineStageCounts>> StopAsync(TimeSpan drainTimeout, CancellationToken cancellationToken) =>
        Label(await _pipeline.StopAsync(drainTimeout, cancellationToken).ConfigureAwait(false));

    public override void AddTo(MetricsReporting reporting) => reporting.Add(_pipeline);

    public override ValueTask DisposeAsync() => _pipeline.DisposeAsync();

    private IReadOnlyList<PipelineStageCounts> Label(PipelineCounts counts) =>
        [.. counts.Stages.Select(s => s with { Stage = $"{Name}/{s.Stage}" })];
}
