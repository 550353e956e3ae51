using Engine.Pipelines;
using Engine.Reporting;
using Engine.Stages;

namespace Engine.Hosting;

/// <summary>A hosted stand-alone stage.</summary>
/// <typeparam name="T">The stage's item type.</typeparam>
internal sealed class StageInstance<T> : EngineInstance
{
    private readonly Stage<T> _stage;

    public StageInstance(Stage<T> stage, TimeSpan drainTimeout)
        : base("stage", stage.Name, drainTimeout)
    {
        _stage = stage;
    }

    public override object Target => _stage;

    public override Task Completion => _stage.Completion;

    public override IReadOnlyList<PipelineStageCounts> GetStageCounts() => [new(Name, _stage.GetCounts(), 0)];

    public override async ValueTask<IReadOnlyList<PipelineStageCounts>> StopAsync(TimeSpan drainTimeout, CancellationToken cancellationToken) =>
        [new(Name, await _stage.StopAsync(drainTimeout, cancellationToken).ConfigureAwait(false), 0)];

    public override void AddTo(MetricsReporting reporting) => reporting.Add(_stage);

    public override ValueTask DisposeAsync() => _stage.DisposeAsync();
}
