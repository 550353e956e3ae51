namespace Engine.Metrics;

/// <summary>Cumulative counts for one value of a stage's <c>kind</c> dimension.</summary>
/// <param name="Kind">The kind (or <c>other</c> for values past the cap).</param>
/// <param name="Processed">Successful handler runs.</param>
/// <param name="HandlerErrors">Failed handler runs.</param>
/// <param name="DeadLettered">Items that failed permanently.</param>
public readonly record struct KindMetrics(string Kind, long Processed, long HandlerErrors, long DeadLettered);
