namespace Engine.Reporting;

/// <summary>A reporter's self-metrics: how its flushes went, cumulative since the scheduler started.</summary>
public sealed record ReporterStatus
{
    /// <summary>The reporter's name.</summary>
    public required string Reporter { get; init; }

    /// <summary>Flushes that completed.</summary>
    public long Succeeded { get; init; }

    /// <summary>Flushes that threw or timed out (timed-out ones are also in <see cref="TimedOut"/>).</summary>
    public long Failed { get; init; }

    /// <summary>Flushes abandoned after the scheduler's <c>FlushTimeout</c>.</summary>
    public long TimedOut { get; init; }

    /// <summary>Flushes not started because the previous one was still running.</summary>
    public long Skipped { get; init; }

    /// <summary>How long the last finished flush took.</summary>
    public TimeSpan LastDuration { get; init; }

    /// <summary>The reporter's delivery figures, when it keeps a buffer (see <see cref="IMetricsReporter.Delivery"/>).</summary>
    public DeliveryStatistics? Delivery { get; init; }
}
