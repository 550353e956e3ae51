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

    /// <summary>Whether to add every point in App.Metrics' plain-text format (the same points the InfluxDB reporter sends). Default false.</summary>
    public bool AppMetricsText { get; set; }
}
