using Engine.Limiters;
using Engine.Loops;
using Engine.Metrics;
using Engine.Pipelines;

namespace Engine.Reporting;

/// <summary>
/// The sources a <see cref="MetricsReporting"/> reads: pipelines, stages used alone, loops and
/// limiters. Copy-on-write, so sources can be added while reporters read.
/// </summary>
internal sealed class MetricsSources
{
    private readonly Lock _gate = new();
    private volatile Sources _sources = new([], [], [], []);

    public void Add(PipelineRuntime pipeline) => Update(s => s with { Pipelines = [.. s.Pipelines, pipeline] });

    public void Add(IStageMetricsSource stage) => Update(s => s with { Stages = [.. s.Stages, stage] });

    public void Add(PeriodicLoop loop) => Update(s => s with { Loops = [.. s.Loops, loop] });

    public void Add(ConcurrencyLimiter limiter) => Update(s => s with { Limiters = [.. s.Limiters, limiter] });

    /// <summary>Opens <paramref name="consumer"/>'s cursors on every source that has none yet.</summary>
    public void Open(MetricsCursors consumer)
    {
        Sources sources = _sources;
        foreach (PipelineRuntime pipeline in sources.Pipelines)
        {
            pipeline.OpenMetricsCursors(consumer);
        }

        foreach (IStageMetricsSource stage in sources.Stages)
        {
            stage.OpenMetricsCursor(consumer);
        }

        foreach (ConcurrencyLimiter limiter in sources.Limiters)
        {
            limiter.OpenMetricsCursor(consumer);
        }
    }

    /// <summary>Every source's figures over <paramref name="consumer"/>'s interval.</summary>
    public MetricsReport Take(MetricsCursors consumer, GlobalTags tags, DateTimeOffset timestamp, TimeSpan interval, IReadOnlyList<ReporterStatus> reporters, bool isFinal)
    {
        Sources sources = _sources;
        return new MetricsReport
        {
            Timestamp = timestamp,
            Interval = interval,
            Tags = tags,
            Pipelines = [.. sources.Pipelines.Select(p => p.TakeMetricsSnapshot(consumer))],
            Stages = [.. sources.Stages.Select(s => s.TakeMetricsSnapshot(consumer))],
            Loops = [.. sources.Loops.Select(l => l.GetMetrics())],
            Limiters = [.. sources.Limiters.Select(l => l.TakeMetricsSnapshot(consumer))],
            Reporters = reporters,
            IsFinal = isFinal,
        };
    }

    private void Update(Func<Sources, Sources> change)
    {
        lock (_gate)
        {
            _sources = change(_sources);
        }
    }

    private sealed record Sources(PipelineRuntime[] Pipelines, IStageMetricsSource[] Stages, PeriodicLoop[] Loops, ConcurrencyLimiter[] Limiters);
}
