using System.ComponentModel.DataAnnotations;
using Engine.Reporting;

namespace Engine.Hosting;

/// <summary>
/// Metrics reporting run as a hosted service: which reporters flush every registered pipeline, stage and
/// loop, and with which global tags. Bound from <see cref="EngineSections.Reporting"/>
/// (<c>Engine:Reporting</c>) and validated when the host starts. A reporter runs when its section is
/// present (<c>Engine:Reporting:Console</c>, <c>Engine:Reporting:InfluxDb</c>) or set in code; every
/// <see cref="IMetricsReporter"/> registered in the service collection runs too. With no reporter,
/// nothing is started.
/// </summary>
/// <example>
/// <code>
/// "Engine": { "Reporting": {
///   "App": "orders", "Env": "prod",
///   "Console": { "FlushInterval": "00:00:10" },
///   "InfluxDb": { "Url": "http://127.0.0.1:8086", "Database": "engine", "FlushInterval": "00:00:10" } } }
/// </code>
/// </example>
public sealed class EngineReportingOptions
{
    /// <summary>The <c>app</c> tag of every point. The default (null) is the entry assembly's name.</summary>
    public string? App { get; set; }

    /// <summary>The <c>env</c> tag. The default (null) is <c>DOTNET_ENVIRONMENT</c> or <c>ASPNETCORE_ENVIRONMENT</c>, else <c>production</c>.</summary>
    public string? Env { get; set; }

    /// <summary>The <c>server</c> tag. The default (null) is the machine name.</summary>
    public string? Server { get; set; }

    /// <summary>How long one flush may take before it is abandoned. The default value is 10 seconds; from 1 millisecond to 10 minutes.</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:10:00")]
    public TimeSpan FlushTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The console reporter's settings; null (the default) runs none. Its <c>Writer</c> defaults to standard output.</summary>
    public ConsoleReporterOptions? Console { get; set; }

    /// <summary>
    /// The InfluxDB reporter's settings; null (the default) runs none. Its <c>Logger</c> defaults to the
    /// host's logger (category <c>Engine.Hosting</c>).
    /// </summary>
    public InfluxDbReporterOptions? InfluxDb { get; set; }
}
