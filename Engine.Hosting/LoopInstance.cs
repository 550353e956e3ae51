using Engine.Loops;
using Engine.Metrics;
using Engine.Pipelines;
using Engine.Reporting;

namespace Engine.Hosting;

/// <summary>A hosted periodic loop: it stops first on shutdown, since loops usually feed the pipelines.</summary>
internal sealed class LoopInstance : EngineInstance
{
    private readonly PeriodicLoop _loop;
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public LoopInstance(PeriodicLoop loop, TimeSpan interval)
        : base("loop", loop.Name, TimeSpan.Zero)
    {
        _loop = loop;
        LoopInterval = interval;
    }

    public override object Target => _loop;

    public override Task Completion => _stopped.Task;

    public override TimeSpan LoopInterval { get; }

    public override LoopMetricsSnapshot? GetLoop() => _loop.GetMetrics();

    public override async ValueTask<IReadOnlyList<PipelineStageCounts>> StopAsync(TimeSpan drainTimeout, CancellationToken cancellationToken)
    {
        await _loop.StopAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        _stopped.TrySetResult();
        return [];
    }

    public override void AddTo(MetricsReporting reporting) => reporting.Add(_loop);

    public override async ValueTask DisposeAsync()
    {
        await _loop.DisposeAsync().ConfigureAwait(false);
        _stopped.TrySetResult();
    }
}
