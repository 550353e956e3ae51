namespace Engine.Shards;

/// <summary>
/// What a shard tells whoever records its figures: the one seam between the shard and metrics (the
/// shard knows nothing of how figures are kept). A shard without an observer (metrics off) reads no
/// clock and calls nothing. Timestamps are ticks of the stage's <see cref="TimeProvider"/>.
/// </summary>
/// <remarks>
/// Called on the hot path, from writers and worker loops at once, without the shard's lock:
/// implementations must not block and must not allocate. There is one implementation, sealed
/// (<c>Metrics/ShardMetrics</c>), so the runtime's guarded devirtualisation turns these calls
/// into direct, inlinable ones.
/// </remarks>
internal abstract class ShardObserver
{
    /// <summary>Whether items settled by this shard end their journey here (a pipeline's sink), so <see cref="EndToEndLatency"/> is wanted.</summary>
    public abstract bool RecordsEndToEnd { get; }

    /// <summary>A worker loop starts; it reports its runs with the handle returned, and gives it back when it stops.</summary>
    public abstract ShardWorker ClaimWorker();

    /// <summary>The items the shard held right after an accept (for the depth peak).</summary>
    public abstract void Held(long items);

    /// <summary>A handler run starts at <paramref name="start"/>; <paramref name="waited"/> is the item's queue wait, or −1 for a retry.</summary>
    public abstract void RunStarted(ShardWorker worker, long start, long waited);

    /// <summary>The handler run that started at <paramref name="start"/> ended at <paramref name="end"/>.</summary>
    public abstract void RunEnded(ShardWorker worker, long start, long end);

    /// <summary>
    /// <paramref name="runs"/> handler runs timed together (see <see cref="RunTiming"/>) ran from
    /// <paramref name="start"/> to <paramref name="end"/>; the first of them was reported with
    /// <see cref="RunStarted"/> at <paramref name="start"/>.
    /// </summary>
    public abstract void RunsEnded(ShardWorker worker, long start, long end, int runs);

    /// <summary>An item settled at the end of its journey, <paramref name="ticks"/> after it entered the pipeline.</summary>
    public abstract void EndToEndLatency(long ticks, long at);

    /// <summary>Whether <see cref="Kind"/> is wanted (a kind selector is set).</summary>
    public abstract bool CountsKinds { get; }

    /// <summary>A run's outcome under the item's kind (what the stage's kind selector gave).</summary>
    public abstract void Kind(string? kind, RunOutcome outcome);
}

/// <summary>One worker loop's handle on its <see cref="ShardObserver"/> (its busy time).</summary>
internal abstract class ShardWorker
{
    /// <summary>The loop stopped; the handle may serve another loop.</summary>
    public abstract void Release();
}

/// <summary>How a handler run ended, for the kind dimension.</summary>
internal enum RunOutcome
{
    /// <summary>Processed.</summary>
    Processed = 0,

    /// <summary>Failed (retried or not).</summary>
    Failed = 1,

    /// <summary>Failed for good: dead-lettered.</summary>
    DeadLettered = 2,
}
