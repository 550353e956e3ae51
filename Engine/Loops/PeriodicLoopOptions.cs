using System.ComponentModel.DataAnnotations;

namespace Engine.Loops;

/// <summary>How a <see cref="PeriodicLoop"/> runs its job.</summary>
public sealed class PeriodicLoopOptions
{
    /// <summary>The loop's name, in errors and metrics. Required; not blank.</summary>
    [Required(AllowEmptyStrings = false)]
    public string Name { get; set; } = "";

    /// <summary>Time from the end of one run to the start of the next. The default value is 1 minute; from 1 ms to 1 day.</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "1.00:00:00")]
    public TimeSpan Interval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Whether the first run starts at once (true) or after one interval. The default value is false.</summary>
    public bool RunAtStart { get; set; }

    /// <summary>The clock for intervals and durations. The default value is <see cref="TimeProvider.System"/>.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>
    /// Where the <c>Engine</c> meter's instruments come from: a host's <see cref="System.Diagnostics.Metrics.IMeterFactory"/>
    /// (from dependency injection) makes the meter, named <see cref="EngineTelemetry.MeterName"/>, and
    /// owns it. The default (null) publishes on the engine's own static meter of that name.
    /// </summary>
    public System.Diagnostics.Metrics.IMeterFactory? MeterFactory { get; set; }
}
