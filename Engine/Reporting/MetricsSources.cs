using Engine.Limiters;
using Engine.Loops;
using Engine.Metrics;
using Engine.Pipelines;
using Microsoft.Extensions.Logging;

namespace Engine.Reporting;

/// <summary>
/// The sources a <see cref="MetricsReporting"/> reads: pipelines, stages used alone, loops,
/// limiters and contributed <see cref="IMetricsSource"/>s. Copy-on-write, so sources can be added
/// (and contributed ones removed) while reporters read.
/// </summary>
internal sealed class MetricsSources
{
    private readonly Lock _gate = new();
    private volatile Sources _sources = new([], [], [], [], []);

    public void Add(PipelineRuntime pipeline) => Update(s => s with { Pipelines = [.. s.Pipelines, pipeline] });

    public void Add(IStageMetricsSource stage) => Update(s => s with { Stages = [.. s.Stages, stage] });

    public void Add(PeriodicLoop loop) => Update(s => s with { Loops = [.. s.Loops, loop] });

    public void Add(ConcurrencyLimiter limiter) => Update(s => s with { Limiters = [.. s.Limiters, limiter] });

    /// <summary>Adds a contributed source; false when one of that name is already here.</summary>
    public bool Add(IMetricsSource source)
    {
        lock (_gate)
        {
            if (_sources.Contributed.Any(c => c.Name == source.Name))
            {
                return false;
            }

            _sources = _sources with { Contributed = [.. _sources.Contributed, new ContributedSource(source)] };
            return true;
        }
    }

    /// <summary>Removes a contributed source (by reference); false when it is not here.</summary>
    public bool Remove(IMetricsSource source)
    {
        lock (_gate)
        {
            ContributedSource[] kept = [.. _sources.Contributed.Where(c => !ReferenceEquals(c.Source, source))];
            if (kept.Length == _sources.Contributed.Length)
            {
                return false;
            }

            _sources = _sources with { Contributed = kept };
            return true;
        }
    }

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
    public MetricsReport Take(MetricsCursors consumer, GlobalTags tags, DateTimeOffset timestamp, TimeSpan interval, IReadOnlyList<ReporterStatus> reporters, bool isFinal, ILogger logger)
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
            Sources = Collect(sources.Contributed, logger),
            Reporters = reporters,
            IsFinal = isFinal,
        };
    }

    private static SourceMetricsSnapshot[] Collect(ContributedSource[] sources, ILogger logger)
    {
        if (sources.Length == 0)
        {
            return [];
        }

        var snapshots = new SourceMetricsSnapshot[sources.Length];
        for (int i = 0; i < sources.Length; i++)
        {
            snapshots[i] = sources[i].Collect(logger);
        }

        return snapshots;
    }

    private void Update(Func<Sources, Sources> change)
    {
        lock (_gate)
        {
            _sources = change(_sources);
        }
    }

    private sealed record Sources(PipelineRuntime[] Pipelines, IStageMetricsSource[] Stages, PeriodicLoop[] Loops, ConcurrencyLimiter[] Limiters, ContributedSource[] Contributed);

    /// <summary>A contributed source and what the scheduler keeps about it: its failures, and how many points it wrote last (to size the next list).</summary>
    private sealed class ContributedSource(IMetricsSource source)
    {
        private long _failures;
        private int _lastCount;

        public IMetricsSource Source { get; } = source;

        public string Name { get; } = source.Name;

        /// <summary>Calls the source; whatever it throws is logged and counted, and its points of that call dropped.</summary>
        public SourceMetricsSnapshot Collect(ILogger logger)
        {
            var points = new List<MetricPoint>(Volatile.Read(ref _lastCount));
            try
            {
                Source.WritePoints(new MetricPointWriter(points));
                Volatile.Write(ref _lastCount, points.Count);
                return new SourceMetricsSnapshot { Source = Name, Points = points, Failures = Interlocked.Read(ref _failures) };
            }
#pragma warning disable CA1031 // A source is someone else's code: whatever it throws must cost only its own points, never the report.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                long failures = Interlocked.Increment(ref _failures);
                ReportingLog.SourceFailed(logger, Name, ex);
                return new SourceMetricsSnapshot { Source = Name, Failed = true, Failures = failures };
            }
        }
    }
}
