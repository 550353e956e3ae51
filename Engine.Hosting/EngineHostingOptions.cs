using System.ComponentModel.DataAnnotations;

namespace Engine.Hosting;

/// <summary>
/// How the host runs the registered pipelines, stages and loops: how long they may drain on shutdown,
/// how often they are watched, and how much the default logging may write. Bound from
/// <see cref="EngineSections.Hosting"/> (<c>Engine:Hosting</c>) and validated when the host starts;
/// an invalid value fails the start with an error naming the key.
/// </summary>
public sealed class EngineHostingOptions
{
    /// <summary>
    /// How long each pipeline and stage may drain when the host stops, before what is left is aborted
    /// (and logged as abandoned). A pipeline's or stage's own <c>DrainTimeout</c> setting wins. The
    /// default value is 30 seconds; from 0 to 1 day. The host's own <c>HostOptions.ShutdownTimeout</c>
    /// (30 s by default) also ends the drain, whichever comes first, so raise both together.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00")]
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How often the running instances are sampled for the health check (queue depth, dead-letter rate,
    /// loops, reporters) and for the periodic log of handler and callback errors. The default value is
    /// 5 seconds; from 1 millisecond to 1 hour.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "01:00:00")]
    public TimeSpan MonitorInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Whether dead letters, drops, handler errors and callback errors are logged through the host's
    /// <c>ILogger</c> (category <c>Engine.Hosting</c>, with the stage name and the item key). The default value is true.
    /// </summary>
    public bool LogItems { get; set; } = true;

    /// <summary>
    /// At most this many entries of one kind (dead letter, drop, handler error, callback error) per
    /// stage are logged within <see cref="LogWindow"/>; the rest are counted and summed up in one entry
    /// when the window ends. The default value is 10; from 1 to 100,000.
    /// </summary>
    [Range(1, 100_000)]
    public int LogLimit { get; set; } = 10;

    /// <summary>The window of <see cref="LogLimit"/>. The default value is 1 minute; from 1 millisecond to 1 day.</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "1.00:00:00")]
    public TimeSpan LogWindow { get; set; } = TimeSpan.FromMinutes(1);
}
