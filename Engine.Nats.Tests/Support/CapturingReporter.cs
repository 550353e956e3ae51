using Engine.Reporting;

namespace Engine.Nats.Tests.Support;

/// <summary>A reporter that keeps the last report it was given, for tests that flush on demand.</summary>
internal sealed class CapturingReporter : IMetricsReporter
{
    public string Name => "capture";

    public TimeSpan FlushInterval => TimeSpan.FromHours(1);

    public MetricsReport? Last { get; private set; }

    public ValueTask FlushAsync(MetricsReport report, CancellationToken cancellationToken)
    {
        Last = report;
        return ValueTask.CompletedTask;
    }
}
