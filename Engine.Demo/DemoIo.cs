namespace Engine.Demo;

/// <summary>
/// What the demo's simulated service calls depend on: the clock their latency passes on, the latency,
/// and the roll that decides whether a call fails. <see cref="Real"/> is the demo's own; a test gives
/// a fake clock and its own rolls (Engine.Testing.Tests drive the demo pipeline this way).
/// </summary>
/// <param name="Clock">The clock for the pipeline (retries, batch windows) and the simulated latencies.</param>
/// <param name="Latency">One call's latency.</param>
/// <param name="Roll">A value in [0, 1) per call: below 0.02 the call fails transiently, below 0.022 permanently.</param>
internal sealed record DemoIo(TimeProvider Clock, Func<TimeSpan> Latency, Func<StateUpdate, double> Roll)
{
    /// <summary>The system clock, a log-normal latency and random rolls.</summary>
    public static DemoIo Real { get; } = new(TimeProvider.System, DemoPipeline.IoLatency, _ => Random.Shared.NextDouble());
}
