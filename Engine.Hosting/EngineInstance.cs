using Engine.Metrics;
using Engine.Pipelines;
using Engine.Reporting;

namespace Engine.Hosting;

/// <summary>
/// One running pipeline, stage or loop as the host sees it: what it is called, its figures, how it is
/// reported, and how it stops. The hosted services and the monitor treat every kind alike through it.
/// </summary>
internal abstract class EngineInstance : IAsyncDisposable
{
    protected EngineInstance(string kind, string name, TimeSpan drainTimeout)
    {
        Kind = kind;
        Name = name;
        DrainTimeout = drainTimeout;
    }

    /// <summary><c>pipeline</c>, <c>stage</c> or <c>loop</c>.</summary>
    public string Kind { get; }

    public string Name { get; }

    /// <summary>How long it may drain when the host stops.</summary>
    public TimeSpan DrainTimeout { get; }

    /// <summary>The pipeline, stage or loop itself (what DI hands out under <see cref="Name"/>).</summary>
    public abstract object Target { get; }

    /// <summary>Completes when the instance has ended on its own or been stopped; faults when it faulted.</summary>
    public abstract Task Completion { get; }

    /// <summary>Every stage's counts, each labelled as the monitor and the log name it (<c>pipeline/stage</c> or <c>stage</c>).</summary>
    public virtual IReadOnlyList<PipelineStageCounts> GetStageCounts() => [];

    /// <summary>The loop's figures, for a loop.</summary>
    public virtual LoopMetricsSnapshot? GetLoop() => null;

    /// <summary>The loop's interval, for a loop.</summary>
    public virtual TimeSpan LoopInterval => TimeSpan.Zero;

    /// <summary>Drains for up to <paramref name="drainTimeout"/>, then aborts; a loop just stops.</summary>
    /// <returns>Every stage's final counts (labelled as in <see cref="GetStageCounts"/>).</returns>
    public abstract ValueTask<IReadOnlyList<PipelineStageCounts>> StopAsync(TimeSpan drainTimeout, CancellationToken cancellationToken);

    /// <summary>Registers the instance with a reporting scheduler.</summary>
    public abstract void AddTo(MetricsReporting reporting);

    public abstract ValueTask DisposeAsync();
}
