namespace Engine.Metrics;

/// <summary>A periodic loop's figures at one moment.</summary>
public sealed record LoopMetricsSnapshot
{
    /// <summary>The loop's name.</summary>
    public required string Loop { get; init; }

    /// <summary>Whether a run is in progress now (1) or not (0).</summary>
    public int Running { get; init; }

    /// <summary>Runs that completed successfully.</summary>
    public long Runs { get; init; }

    /// <summary>Runs whose job threw.</summary>
    public long FailedRuns { get; init; }

    /// <summary>Duration of the last finished run.</summary>
    public TimeSpan LastRunDuration { get; init; }

    /// <summary>Items the last successful run handled.</summary>
    public long LastRunItems { get; init; }

    /// <summary>Items that failed within the last successful run.</summary>
    public long LastRunFailedItems { get; init; }

    /// <summary>Time since the last successful run ended; null before the first one.</summary>
    public TimeSpan? SinceLastSuccess { get; init; }
}
