using System.ComponentModel.DataAnnotations;

namespace Engine.Testing;

/// <summary>How an <see cref="EngineHarness"/> runs. Read once, when the harness is created.</summary>
public sealed class EngineHarnessOptions
{
    /// <summary>The clock's first reading. The default value is 2026-01-01T00:00:00Z.</summary>
    public DateTimeOffset Start { get; set; } = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>
    /// How long, in real time, <see cref="EngineHarness.RunUntilIdleAsync"/> (and every step of
    /// <see cref="EngineHarness.AdvanceAsync"/>) waits for the engine to become idle before it throws
    /// <see cref="EngineHarnessTimeoutException"/> saying what is still busy. Never a part of what a test
    /// measures: only a bound so that a handler stuck on real I/O fails the test instead of hanging it.
    /// The default value is 10 seconds; more than zero.
    /// </summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The most virtual time <see cref="EngineHarness.CompleteAsync{T}(Engine.Pipelines.Pipeline{T}, CancellationToken)"/>
    /// moves the clock to let a pipeline or stage drain (retries and batch windows included) before it
    /// gives up. The default value is 1 hour; more than zero.
    /// </summary>
    public TimeSpan MaxDrainTime { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Seeds the jitter of retry backoffs of stages built on the harness's clock. The default value is 0.</summary>
    [Range(0, int.MaxValue)]
    public int Seed { get; set; }
}
