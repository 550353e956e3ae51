using Engine.Limiters;
using Engine.Loops;
using Engine.Metrics;

namespace Engine.Reporting;

/// <summary>
/// What one reporter flushes: the figures of every registered source over the interval since that
/// reporter's previous flush (each reporter keeps intervals of its own), and the scheduler's self-metrics.
/// </summary>
public sealed record MetricsReport
{
    /// <summary>When the report was taken, on the scheduler's clock; InfluxDB points carry it.</summary>
    public DateTimeOffset Timestamp { get; init; }

    /// <summary>The time since this reporter's previous report (for the first, since the scheduler started, or was created if it never started).</summary>
    public TimeSpan Interval { get; init; }

    /// <summary>The tags to add to every point.</summary>
    public required GlobalTags Tags { get; init; }

    /// <summary>Every registered pipeline's snapshot.</summary>
    public IReadOnlyList<PipelineMetricsSnapshot> Pipelines { get; init; } = [];

    /// <summary>Every registered stage used on its own (outside a pipeline).</summary>
    public IReadOnlyList<StageMetricsSnapshot> Stages { get; init; } = [];

    /// <summary>Every registered periodic loop.</summary>
    public IReadOnlyList<LoopMetricsSnapshot> Loops { get; init; } = [];

    /// <summary>Every registered concurrency limiter.</summary>
    public IReadOnlyList<LimiterMetricsSnapshot> Limiters { get; init; } = [];

    /// <summary>Every contributed source (<see cref="IMetricsSource"/>), in the order added: its points for this report and its failure count.</summary>
    public IReadOnlyList<SourceMetricsSnapshot> Sources { get; init; } = [];

    /// <summary>Every reporter's self-metrics as of this report.</summary>
    public IReadOnlyList<ReporterStatus> Reporters { get; init; } = [];

    /// <summary>Whether this is the last report, made when the scheduler stops.</summary>
    public bool IsFinal { get; init; }

    /// <summary>The pipelines' stages, then the stages used on their own.</summary>
    public IEnumerable<StageMetricsSnapshot> AllStages => Pipelines.SelectMany(p => p.Stages).Concat(Stages);
}
