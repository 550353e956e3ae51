using System.ComponentModel.DataAnnotations;

namespace Engine.Limiters;

/// <summary>How a <see cref="ConcurrencyLimiter"/> limits.</summary>
public sealed class ConcurrencyLimiterOptions
{
    /// <summary>The limiter's name, in errors and metrics. Required; not blank.</summary>
    [Required(AllowEmptyStrings = false)]
    public string Name { get; set; } = "";

    /// <summary>How many holders at once. The default value is 8; from 1 to 1,000,000.</summary>
    [Range(1, 1_000_000)]
    public int MaxConcurrency { get; set; } = 8;

    /// <summary>The clock for wait times. The default value is <see cref="TimeProvider.System"/>.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>
    /// Where the <c>Engine</c> meter's instruments come from: a host's <see cref="System.Diagnostics.Metrics.IMeterFactory"/>
    /// (from dependency injection) makes the meter, named <see cref="EngineTelemetry.MeterName"/>, and
    /// owns it. The default (null) publishes on the engine's own static meter of that name.
    /// </summary>
    public System.Diagnostics.Metrics.IMeterFactory? MeterFactory { get; set; }
}
