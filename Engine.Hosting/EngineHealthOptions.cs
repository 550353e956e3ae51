using System.ComponentModel.DataAnnotations;

namespace Engine.Hosting;

/// <summary>
/// When the Engine health check (<see cref="EngineHealthChecksBuilderExtensions.AddEngineHealthCheck"/>)
/// reports its failure status (degraded by default). Bound from <see cref="EngineSections.Health"/>
/// (<c>Engine:Health</c>) and validated when the host starts. The figures are sampled every
/// <see cref="EngineHostingOptions.MonitorInterval"/>.
/// </summary>
public sealed class EngineHealthOptions
{
    /// <summary>
    /// A stage whose waiting items (all shards) stay at or above this many for <see cref="DeepFor"/> is
    /// reported. The default value is 1000; from 1 up.
    /// </summary>
    [Range(1, long.MaxValue)]
    public long DepthThreshold { get; set; } = 1000;

    /// <summary>
    /// How long a stage's queues must stay at or above <see cref="DepthThreshold"/> before it is
    /// reported (a burst that drains is normal). The default value is 30 seconds; from 0 to 1 day.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00")]
    public TimeSpan DeepFor { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// A stage that dead-lettered more than this many items per second over the last monitor interval is
    /// reported. The default value is 1; 0 reports any dead letter.
    /// </summary>
    [Range(0, double.MaxValue)]
    public double DeadLettersPerSecond { get; set; } = 1;

    /// <summary>
    /// A periodic loop whose last successful run is older than this (or that has not succeeded this long
    /// after it started) is reported. The default (null) is three of the loop's intervals.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "1.00:00:00")]
    public TimeSpan? LoopStaleAfter { get; set; }

    /// <summary>
    /// A metrics reporter whose flushes or deliveries failed this many times in a row is reported. The
    /// default value is 3; from 1 to 1000.
    /// </summary>
    [Range(1, 1000)]
    public int ReporterFailures { get; set; } = 3;
}
