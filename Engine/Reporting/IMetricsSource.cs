namespace Engine.Reporting;

/// <summary>
/// Figures from outside the core (a package such as <c>Engine.Nats</c>, or your own code) that every
/// reporter of a <see cref="MetricsReporting"/> writes beside the engine's: add one with
/// <see cref="MetricsReporting.Add(IMetricsSource)"/>. Its points travel in
/// <see cref="MetricsReport.Sources"/>, so the console, App.Metrics text, InfluxDB and your own
/// reporters all see them.
/// </summary>
/// <remarks>
/// The core documents and checks only its own metrics (docs/metrics.md, the catalogue); a source's
/// points are documented by whoever provides the source.
/// </remarks>
public interface IMetricsSource
{
    /// <summary>The source's name in logs and in its self-metrics (tag <c>source</c>); unique within one <see cref="MetricsReporting"/>.</summary>
    string Name { get; }

    /// <summary>
    /// Writes the source's points for one report. Called once per report, on the loop of the reporter
    /// the report is for, so possibly from several reporters' loops at once: it must be thread-safe,
    /// return quickly and never block or wait for I/O (read figures kept up to date elsewhere, as
    /// meter callbacks do), because it runs before the reporter's flush and its time bound.
    /// </summary>
    /// <param name="points">Where to write; valid only during the call.</param>
    /// <remarks>
    /// If it throws, the points it wrote in this call are discarded, the failure is logged (warning)
    /// and counted (<see cref="SourceMetricsSnapshot.Failures"/>, <c>engine__source_failures</c>), and
    /// the report goes out without them: a source never breaks a report.
    /// </remarks>
    void WritePoints(MetricPointWriter points);
}
