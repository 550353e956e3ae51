using System.ComponentModel.DataAnnotations;
using Engine.Dedupe;
using Engine.Retry;
using Engine.Routing;

namespace Engine.Stages;

/// <summary>
/// How a stage is shaped: its shards, their capacity and workers, what happens when a shard is full,
/// how items are keyed and retried, and where dropped and dead-lettered items are reported.
/// </summary>
/// <remarks>
/// The options are read once, when the stage is created (<see cref="Stage.Create{T}(StageOptions{T}, Func{T, CancellationToken, ValueTask})"/>);
/// changing them afterwards has no effect. Invalid values fail creation with an
/// <see cref="ArgumentException"/> whose message and <see cref="ArgumentException.ParamName"/> name the option.
/// </remarks>
/// <typeparam name="T">The item type.</typeparam>
public sealed class StageOptions<T>
{
    /// <summary>The stage's name, used in error messages and metrics. Required; not blank.</summary>
    [Required(AllowEmptyStrings = false)]
    public string Name { get; set; } = "";

    /// <summary>
    /// The number of keyed shards; the stage also has one unkeyed shard. The default value is 4; from 1 to 4096.
    /// </summary>
    [Range(1, StageConstants.MaxShards)]
    public int Shards { get; set; } = StageConstants.DefaultShards;

    /// <summary>
    /// How many items each shard's channel holds before <see cref="FullMode"/> applies. The default value
    /// is 1024; from 1 to 16,777,216. A keyed shard may additionally hold up to this many items parked
    /// behind keys that are busy (in a handler or waiting for a retry), so per-key order costs no
    /// unbounded memory.
    /// </summary>
    [Range(1, StageConstants.MaxCapacity)]
    public int Capacity { get; set; } = StageConstants.DefaultCapacity;

    /// <summary>
    /// Workers draining each keyed shard. The default value is 1; from 1 to 1024. With more than one,
    /// items of different keys in a shard run in parallel while one key still runs one item at a time, in order.
    /// </summary>
    [Range(1, StageConstants.MaxWorkers)]
    public int WorkersPerShard { get; set; } = StageConstants.DefaultWorkers;

    /// <summary>
    /// Workers draining the unkeyed shard. The default value is 1; from 1 to 1024. Unkeyed items carry
    /// no ordering promise when there is more than one.
    /// </summary>
    [Range(1, StageConstants.MaxWorkers)]
    public int UnkeyedWorkers { get; set; } = StageConstants.DefaultWorkers;

    /// <summary>What a write to a full shard does. The default value is <see cref="StageFullMode.Wait"/> (backpressure).</summary>
    [EnumDataType(typeof(StageFullMode))]
    public StageFullMode FullMode { get; set; } = StageFullMode.Wait;

    /// <summary>
    /// Picks an item's key (a string, <see cref="long"/>, <see cref="Guid"/> or bytes, see <see cref="ItemKey"/>).
    /// Items with equal keys go to one shard and are handled one at a time, in order; a
    /// <see cref="ItemKey.None"/> key (null or empty string) sends the item to the unkeyed shard. The
    /// default (null) sends every item to the unkeyed shard. If the selector throws, the write fails
    /// with an <see cref="ArgumentException"/> and the item is not accepted.
    /// </summary>
    public Func<T, ItemKey>? KeySelector { get; set; }

    /// <summary>
    /// Dedupe: replace-in-place of waiting items, collapse of items whose key is running, and content
    /// dedupe. Needs a <see cref="KeySelector"/>. The default (null) dedupes nothing.
    /// </summary>
    public DedupeOptions<T>? Dedupe { get; set; }

    /// <summary>Retries of transient failures. The default (null) runs each item once.</summary>
    public RetryOptions? Retry { get; set; }

    /// <summary>
    /// Items that wait for their time: delayed writes (<c>WriteAsync(item, delay)</c> and the due-time
    /// form) and a handler's requeue (<see cref="Timing.RequeueException"/>) and deferral
    /// (<see cref="Timing.DeferException"/>). The default (null) turns them off: delayed writes then
    /// throw <see cref="InvalidOperationException"/>, and a requeue or deferral is an ordinary failure.
    /// </summary>
    public Timing.DelayOptions? Delays { get; set; }

    /// <summary>
    /// A rate limit on handler runs, per key or per stage (<see cref="RateLimits.RateLimitOptions{T}"/>):
    /// an item without a permit waits on a timer with its key busy (shape) or is dropped. The default (null) limits nothing.
    /// </summary>
    public RateLimits.RateLimitOptions<T>? RateLimit { get; set; }

    /// <summary>
    /// Debounce per dedupe key (<see cref="Timing.DebounceOptions"/>): an item runs once its dedupe key
    /// has been quiet for the quiet period, or at the max wait after the key's first pending update.
    /// Needs <see cref="Dedupe"/> in <c>Replace</c> mode. The default (null) debounces nothing.
    /// </summary>
    public Timing.DebounceOptions? Debounce { get; set; }

    /// <summary>
    /// Told of every accepted item a full mode dropped, with the reason. Called on the writing thread;
    /// keep it short. Exceptions it throws are swallowed and counted (<see cref="StageCounts.CallbackErrors"/>).
    /// </summary>
    public Action<T, DropReason>? OnDropped { get; set; }

    /// <summary>
    /// Told of every item that failed permanently, with the last exception and the attempt count.
    /// Called on a worker; exceptions it throws are swallowed and counted.
    /// </summary>
    public Action<T, ItemFailure>? OnDeadLetter { get; set; }

    /// <summary>
    /// Told of every failed handler run, retried or not, with the exception, the attempt and whether
    /// the failure counts as transient (<see cref="ItemFailure.Transient"/>; a dead letter follows
    /// when it does not, or when no attempt is left). Called on a worker right after the run, before
    /// the retry is scheduled or the item dead-lettered; not for a run an abort cancelled. For logging
    /// and alerting: keep it short. Exceptions it throws are swallowed and counted
    /// (<see cref="StageCounts.CallbackErrors"/>). The default value is null.
    /// </summary>
    public Action<T, ItemFailure>? OnHandlerError { get; set; }

    /// <summary>
    /// Whether the stage records timings: work duration, queue wait, busy time and utilisation, and
    /// end-to-end latency in a pipeline's sinks (see <c>docs/metrics.md</c>). Counters are always kept.
    /// The default value is true; false makes the handler path skip every timestamp and histogram.
    /// </summary>
    public bool Metrics { get; set; } = true;

    /// <summary>
    /// Which items are timed for the queue-wait figures (see <c>docs/metrics.md</c>, "Sampled
    /// latencies"): 1 times every item; N times an item when its shard's count of accepted items is a
    /// multiple of N at its write, so about one item in N per shard. A power of two from 1 to 1024; the
    /// default value is 16, chosen by measurement (<c>docs/benchmarks.md</c>): a write that is not
    /// timed reads no clock. Counts, work durations, busy time and utilisation are never sampled; the
    /// queue-wait histogram then holds the timed items only (its count is theirs, its minimum and
    /// maximum are theirs). An item that enters without a timestamp is always stamped when the stage's
    /// handler takes an <see cref="ItemContext"/>, so the context's <see cref="ItemContext.EntryTimestamp"/>
    /// and a pipeline's end-to-end latency are exact for every item.
    /// </summary>
    [Range(1, StageConstants.MaxLatencySampling)]
    public int LatencySampling { get; set; } = StageConstants.DefaultLatencySampling;

    /// <summary>
    /// An optional low-cardinality <c>kind</c> dimension for the metrics (for example a resource type):
    /// processed, handler errors and dead letters are also counted per kind. Values past
    /// <see cref="MaxKinds"/>, and null or empty ones, count as <c>other</c>. If it throws, the item
    /// counts as <c>other</c> and the error as a callback error. The default (null) has no kinds.
    /// </summary>
    public Func<T, string?>? KindSelector { get; set; }

    /// <summary>How many distinct kinds get their own figures before the rest count as <c>other</c>. The default value is 16; from 1 to 256.</summary>
    [Range(1, 256)]
    public int MaxKinds { get; set; } = 16;

    /// <summary>
    /// Where the <c>Engine</c> meter's instruments come from: a host's <see cref="System.Diagnostics.Metrics.IMeterFactory"/>
    /// (from dependency injection) makes the meter, named <see cref="EngineTelemetry.MeterName"/>, and
    /// owns it; stages, loops and limiters given one factory share its meter. The default (null)
    /// publishes on the engine's own static meter of that name (in a pipeline: the pipeline's factory, if it has one).
    /// </summary>
    public System.Diagnostics.Metrics.IMeterFactory? MeterFactory { get; set; }

    /// <summary>The pipeline the stage belongs to (metrics dimension); set by the pipeline builder.</summary>
    internal string? PipelineName { get; set; }

    /// <summary>Whether the stage ends a pipeline branch, so it records end-to-end latency; set by the pipeline builder.</summary>
    internal bool RecordsEndToEnd { get; set; }

    /// <summary>Which channel the shards queue in (see <see cref="Queues.ShardQueue"/>); the ring by default. Tests run the shard's suites on each.</summary>
    internal Queues.ShardQueue Queue { get; set; }

    /// <summary>The clock for timestamps, retry backoffs and drain timeouts. The default value is <see cref="TimeProvider.System"/>.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>
    /// How long <see cref="Stage{T}.DisposeAsync"/> lets the stage drain before it aborts what is left.
    /// The default value is 30 seconds; <see cref="Timeout.InfiniteTimeSpan"/> waits for ever.
    /// </summary>
    public TimeSpan DisposeDrainTimeout { get; set; } = StageConstants.DefaultDisposeDrainTimeout;
}
