using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Engine.Reporting;

/// <summary>How <see cref="MetricsReporting"/> schedules its reporters. Validated when it is created.</summary>
public sealed class MetricsReportingOptions
{
    /// <summary>Tags added to every point. Default: <see cref="GlobalTags.Default"/>.</summary>
    public GlobalTags Tags { get; set; } = GlobalTags.Default();

    /// <summary>The clock for flush intervals, time bounds and report timestamps. Default: <see cref="TimeProvider.System"/>.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>Where failed, timed-out and skipped flushes are logged. Default: no logging.</summary>
    public ILogger Logger { get; set; } = NullLogger.Instance;

    /// <summary>
    /// The longest one flush may take; then its token is cancelled, it is counted as timed out and the
    /// scheduler stops waiting for it (and skips that reporter's flushes until it ends). Default 10 s; from 1 ms to 10 min.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:10:00")]
    public TimeSpan FlushTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Whether <see cref="MetricsReporting.StopAsync"/> makes one final flush per reporter. Default true.</summary>
    public bool FlushOnStop { get; set; } = true;
}
