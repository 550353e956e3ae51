namespace Engine.Metrics;

/// <summary>A concurrency limiter's figures for one interval (since the previous snapshot).</summary>
public sealed record LimiterMetricsSnapshot
{
    /// <summary>The limiter's name.</summary>
    public required string Limiter { get; init; }

    /// <summary>Slots held now.</summary>
    public int Held { get; init; }

    /// <summary>Callers waiting for a slot now.</summary>
    public int Waiting { get; init; }

    /// <summary>The limit.</summary>
    public int MaxConcurrency { get; init; }

    /// <summary>Slots granted since the limiter was made.</summary>
    public long Acquired { get; init; }

    /// <summary>Time callers waited for a slot, over the interval.</summary>
    public LatencySummary WaitTime { get; init; } = LatencySummary.Empty;
}
