namespace Engine;

/// <summary>
/// The names under which the engine publishes its telemetry, for <c>AddMeter</c>, <c>AddSource</c>,
/// <c>dotnet-counters --counters</c> and meter or activity listeners.
/// </summary>
/// <remarks>
/// Both names are <c>Engine</c>. The meter is a static one by default; a host that wants its metrics to
/// come from its own <see cref="System.Diagnostics.Metrics.IMeterFactory"/> sets the <c>MeterFactory</c>
/// of the stage, pipeline, loop and limiter options (see <c>docs/metrics.md</c>). The activity source
/// is static: activities have no factory in the BCL. See <c>docs/tracing.md</c> for what is traced.
/// </remarks>
public static class EngineTelemetry
{
    /// <summary>The name of the <see cref="System.Diagnostics.Metrics.Meter"/> that publishes every stage's, loop's and limiter's figures: <c>Engine</c>.</summary>
    public const string MeterName = "Engine";

    /// <summary>The name of the <see cref="System.Diagnostics.ActivitySource"/> whose activities are handler runs: <c>Engine</c>.</summary>
    public const string ActivitySourceName = "Engine";
}
