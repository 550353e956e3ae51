using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Engine.Reporting;

/// <summary>
/// Where and how an <see cref="InfluxDbReporter"/> writes. InfluxDB 1.x: set <see cref="Database"/>
/// (and optionally <see cref="RetentionPolicy"/>, <see cref="Username"/>/<see cref="Password"/>).
/// InfluxDB 2.x: set <see cref="Organization"/>, <see cref="Bucket"/> and <see cref="Token"/>.
/// Validated when the reporter is created; an error names the option.
/// </summary>
public sealed class InfluxDbReporterOptions
{
    /// <summary>The reporter's name in logs and self-metrics. Default <c>influxdb</c>.</summary>
    [Required(AllowEmptyStrings = false)]
    public string Name { get; set; } = "influxdb";

    /// <summary>The server's base address, absolute http or https, for example <c>http://127.0.0.1:8086</c>. Required.</summary>
    public string? Url { get; set; }

    /// <summary>InfluxDB 1.x: the database to write to (<c>/write?db=</c>).</summary>
    public string? Database { get; set; }

    /// <summary>InfluxDB 1.x: the retention policy (<c>rp=</c>); default (null): the database's default policy.</summary>
    public string? RetentionPolicy { get; set; }

    /// <summary>InfluxDB 1.x: the user for basic authentication; null sends none.</summary>
    public string? Username { get; set; }

    /// <summary>InfluxDB 1.x: the password for basic authentication.</summary>
    public string? Password { get; set; }

    /// <summary>InfluxDB 1.x: whether to create <see cref="Database"/> when the server answers 404 "database not found". Default true.</summary>
    public bool CreateDatabase { get; set; } = true;

    /// <summary>InfluxDB 2.x: the organisation (<c>/api/v2/write?org=</c>).</summary>
    public string? Organization { get; set; }

    /// <summary>InfluxDB 2.x: the bucket (<c>bucket=</c>).</summary>
    public string? Bucket { get; set; }

    /// <summary>InfluxDB 2.x: the API token, sent as <c>Authorization: Token …</c>.</summary>
    public string? Token { get; set; }

    /// <summary>
    /// The unit of meter and timer rates (<c>rate1m</c>, <c>rate5m</c>, <c>rate15m</c>, <c>rate.mean</c>)
    /// and their <c>unit_rate</c> tag. Default <see cref="Reporting.RateUnit.Minutes"/>, App.Metrics'
    /// default (<c>unit_rate=min</c>, events per minute), so App.Metrics dashboards read true.
    /// </summary>
    public RateUnit RateUnit { get; set; } = RateUnit.Minutes;

    /// <summary>How often to flush. Default 10 s; from 1 ms to 1 day.</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "1.00:00:00")]
    public TimeSpan FlushInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The longest one HTTP request may take before it counts as failed. Default 5 s; from 1 ms to 10 min.</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:10:00")]
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The most points in one request; a flush with more is split. Default 5,000; from 1 to 1,000,000.</summary>
    [Range(1, 1_000_000)]
    public int BatchSize { get; set; } = 5_000;

    /// <summary>
    /// The most points kept while the server cannot take them; when full, the oldest are dropped and
    /// counted. Default 100,000; from 1 to 100,000,000.
    /// </summary>
    [Range(1, 100_000_000)]
    public int MaxBufferedPoints { get; set; } = 100_000;

    /// <summary>Consecutive failed requests after which the reporter stops trying for a while. Default 3; from 1 to 1,000.</summary>
    [Range(1, 1_000)]
    public int FailuresBeforeBackoff { get; set; } = 3;

    /// <summary>The first back-off; it doubles with each further failure up to <see cref="MaxBackoff"/>. Default 1 s; from 1 ms to 1 hour.</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "01:00:00")]
    public TimeSpan Backoff { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest back-off, also the cap on a server's <c>Retry-After</c>. Default 5 min; from 1 ms to 1 day.</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "1.00:00:00")]
    public TimeSpan MaxBackoff { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>The clock for back-off and request time bounds. Default <see cref="TimeProvider.System"/>.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>Where rejected points, failed writes and back-offs are logged. Default: no logging.</summary>
    public ILogger Logger { get; set; } = NullLogger.Instance;

    /// <summary>The HTTP handler to send with (proxies, certificates); default (null): a new <see cref="SocketsHttpHandler"/>. A handler given here is not disposed by the reporter.</summary>
    public HttpMessageHandler? HttpHandler { get; set; }
}
