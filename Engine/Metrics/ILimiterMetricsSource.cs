namespace Engine.Metrics;

/// <summary>What the <see cref="EngineMeter"/> reads of a live concurrency limiter.</summary>
internal interface ILimiterMetricsSource
{
    string Name { get; }

    /// <summary>Slots held now.</summary>
    int Held { get; }

    /// <summary>Callers waiting for a slot now.</summary>
    int WaitingCount { get; }
}
