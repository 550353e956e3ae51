namespace Engine.Reporting;

/// <summary>
/// A destination for metrics (the console, InfluxDB, your own). The <see cref="MetricsReporting"/>
/// scheduler calls <see cref="FlushAsync"/> every <see cref="FlushInterval"/> on a loop of the
/// reporter's own, never two at once, and cancels a flush that outlives its time bound.
/// </summary>
public interface IMetricsReporter
{
    /// <summary>The reporter's name in logs and self-metrics; unique within one <see cref="MetricsReporting"/>.</summary>
    string Name { get; }

    /// <summary>How often to flush; greater than zero.</summary>
    TimeSpan FlushInterval { get; }

    /// <summary>
    /// What the reporter has delivered, dropped and still holds, for self-metrics; null for a reporter
    /// that keeps no buffer. When the scheduler stops, it logs the points still <see cref="DeliveryStatistics.Buffered"/>
    /// after the final flush as abandoned; the reporter counts them in <see cref="DeliveryStatistics.Abandoned"/> when disposed.
    /// </summary>
    DeliveryStatistics? Delivery => null;

    /// <summary>
    /// Sends one report. A flush that throws or exceeds the scheduler's <c>FlushTimeout</c> is
    /// logged and counted as failed; it never affects the pipeline or another reporter.
    /// </summary>
    /// <param name="report">
    /// The figures of the interval since this reporter's previous flush. The last one, made when the
    /// scheduler stops, is marked <see cref="MetricsReport.IsFinal"/>: a buffering reporter should try
    /// to deliver everything it holds then, whatever its back-off, since it is disposed right after.
    /// </param>
    /// <param name="cancellationToken">Cancelled when the flush runs out of time.</param>
    /// <returns>A task that completes when the flush is done.</returns>
    ValueTask FlushAsync(MetricsReport report, CancellationToken cancellationToken);
}
