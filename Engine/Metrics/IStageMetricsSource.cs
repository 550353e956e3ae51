
namespace Engine.Metrics;

/// <summary>What the <see cref="EngineMeter"/> and the reporters read of a live stage, whatever its item type.</summary>
internal interface IStageMetricsSource : IStageMeterSource
{
    /// <summary>Opens <paramref name="consumer"/>'s cursor on this stage if it has none.</summary>
    void OpenMetricsCursor(MetricsCursors consumer);

    /// <summary>A snapshot for <paramref name="consumer"/>'s interval.</summary>
    StageMetricsSnapshot TakeMetricsSnapshot(MetricsCursors consumer);
}
