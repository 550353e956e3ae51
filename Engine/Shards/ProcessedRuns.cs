namespace Engine.Shards;

/// <summary>
/// Processed runs a worker loop has settled but not yet counted. A processed run needs two counts:
/// <c>Processed</c> up, and one off the shard's outstanding items, the second an interlocked
/// instruction on a cache line the shard's writers bump on every write. A draining loop gathers
/// them and applies them together: every <see cref="MaxCount"/> runs, when they have waited 5 ms
/// (with metrics on, whose clock the loop reads anyway), before the loop waits for a handler that did
/// not complete at once, and before the loop exits. Until then the runs count as pending, so
/// <c>Accepted</c> = settled + pending holds in every read, and the shard cannot finish (nor its
/// stage complete) before they are counted.
/// </summary>
internal struct ProcessedRuns
{
    /// <summary>The most runs gathered before they are counted.</summary>
    public const int MaxCount = 32;

    /// <summary>Runs gathered.</summary>
    public int Count;

    /// <summary>When the first gathered run ended (clock ticks; 0 without a clock).</summary>
    public long Since;
}
