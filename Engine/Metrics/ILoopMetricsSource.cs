namespace Engine.Metrics;

/// <summary>What the <see cref="EngineMeter"/> and the reporters read of a live periodic loop.</summary>
internal interface ILoopMetricsSource
{
    string Name { get; }

    LoopMetricsSnapshot GetMetrics();
}
