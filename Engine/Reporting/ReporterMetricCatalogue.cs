using Engine.Metrics;

namespace Engine.Reporting;

/// <summary>
/// The reporters' own figures (tag <c>reporter</c>) and the scheduler's about contributed sources
/// (tag <c>source</c>), listed as <see cref="MetricCatalogue"/> lists the
/// engine's: here because <c>Metrics</c> cannot see <see cref="ReporterStatus"/> without depending on
/// <c>Reporting</c>. The meter does not publish them.
/// </summary>
internal static class ReporterMetricCatalogue
{
    /// <summary>Read from every reporter's status.</summary>
    public static readonly IReadOnlyList<MetricDefinition<ReporterStatus, ReporterStatus>> Status =
    [
        MetricDefinition<ReporterStatus, ReporterStatus>.Counter(
            "reporter_flushes",
            "flushes",
            "Flushes by outcome.",
            "result",
            [("succeeded", s => s.Succeeded), ("failed", s => s.Failed), ("timed_out", s => s.TimedOut), ("skipped", s => s.Skipped)]),
    ];

    /// <summary>Read from a reporter's delivery figures, when it keeps a buffer.</summary>
    public static readonly IReadOnlyList<MetricDefinition<DeliveryStatistics, DeliveryStatistics>> Delivery =
    [
        MetricDefinition<DeliveryStatistics, DeliveryStatistics>.Counter(
            "reporter_points",
            "points",
            "Points by what became of them.",
            "result",
            [("sent", d => d.Sent), ("dropped", d => d.Dropped), ("rejected", d => d.Rejected)]),
        MetricDefinition<DeliveryStatistics, DeliveryStatistics>.Gauge("reporter_buffered_points", "points", "Points waiting to be sent.", d => d.Buffered),
        MetricDefinition<DeliveryStatistics, DeliveryStatistics>.Counter("reporter_failed_requests", "requests", "HTTP requests that failed.", d => d.FailedRequests),
    ];

    /// <summary>
    /// Read from every contributed source's snapshot (tag <c>source</c>): the scheduler's figures about
    /// the source, not the source's own points, which its provider documents.
    /// </summary>
    public static readonly IReadOnlyList<MetricDefinition<SourceMetricsSnapshot, SourceMetricsSnapshot>> Source =
    [
        MetricDefinition<SourceMetricsSnapshot, SourceMetricsSnapshot>.Gauge("source_points", "points", "Points the source wrote for this report.", s => s.Points.Count),
        MetricDefinition<SourceMetricsSnapshot, SourceMetricsSnapshot>.Counter("source_failures", "calls", "Calls of the source that threw.", s => s.Failures),
    ];

    /// <summary>Every reporter metric.</summary>
    public static IEnumerable<MetricDefinition> All => [.. Status, .. Delivery, .. Source];
}
