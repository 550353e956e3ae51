using System.ComponentModel.DataAnnotations;

namespace Engine.Reporting;

/// <summary>How a <see cref="ConsoleReporter"/> writes. Validated when the reporter is created.</summary>
public sealed class ConsoleReporterOptions
{
    /// <summary>The reporter's name in logs and self-metrics. Default <c>console</c>.</summary>
    [Required(AllowEmptyStrings = false)]
    public string Name { get; set; } = "console";

    /// <summary>How often to write. Default 10 s; from 1 ms to 1 day.</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "1.00:00:00")]
    public TimeSpan FlushInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Where to write. Default (null): <see cref="Console.Out"/> as it is when the reporter is created.</summary>
    public TextWriter? Writer { get; set; }

    /// <summary>Whether to add a table with one row per shard under each stage. Default false.</summary>
    public bool ShowShards { get; set; }

    /// <summary>
    /// Whether to write every point in App.Metrics' plain-text format instead of the table: the same
    /// points the InfluxDB reporter sends, laid out byte for byte as App.Metrics' console reporter
    /// writes them, so a reader of App.Metrics' text can parse it. Default false (the table). For both
    /// views, add two console reporters.
    /// </summary>
    public bool AppMetricsText { get; set; }

    /// <summary>
    /// With <see cref="AppMetricsText"/>, the unit of meter and timer rates and their <c>unit_rate</c>
    /// tag. Default <see cref="Reporting.RateUnit.Minutes"/>, App.Metrics' default.
    /// </summary>
    public RateUnit RateUnit { get; set; } = RateUnit.Minutes;
}
