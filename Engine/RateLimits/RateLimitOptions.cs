using System.ComponentModel.DataAnnotations;
using System.Threading.RateLimiting;
using Engine.Routing;

namespace Engine.RateLimits;

/// <summary>
/// A stage's rate limit, built on <c>System.Threading.RateLimiting</c>: a limiter per key
/// (<see cref="PerKey"/>: token bucket, fixed or sliding window, concurrency) or one partitioned limiter
/// the user brings (<see cref="Limiter"/>). Each item takes one permit just before its handler runs;
/// without one it is shaped (waits, <see cref="RateLimitMode.Shape"/>) or dropped (<see cref="RateLimitMode.Drop"/>).
/// Set exactly one of <see cref="PerKey"/> and <see cref="Limiter"/>.
/// </summary>
/// <remarks>
/// <c>System.Threading.RateLimiting</c>'s limiters keep real time (even with <c>AutoReplenishment = false</c>
/// they measure elapsed time with the stopwatch). To follow the stage's <see cref="TimeProvider"/>
/// (a fake clock in tests, or simply the same clock as delays and retries) use
/// <see cref="ClockTokenBucketRateLimiter"/>. A permit's lease is disposed as soon as it is taken: a
/// rate is limited, not a concurrency (a concurrency limiter here limits nothing; use the engine's
/// <c>ConcurrencyLimiter</c> around the handler's work for that).
/// </remarks>
/// <typeparam name="T">The item type.</typeparam>
public sealed class RateLimitOptions<T>
{
    /// <summary>
    /// Makes the limiter of one key (by <see cref="KeySelector"/>, else the stage's key; unkeyed items
    /// share one). Called the first time a key asks, and again after its limiter was evicted
    /// (<see cref="MaxKeysPerShard"/>). If it throws, the item's run fails with an <see cref="InvalidOperationException"/>
    /// naming this option (retried or dead-lettered as any failure).
    /// </summary>
    public Func<ItemKey, RateLimiter>? PerKey { get; set; }

    /// <summary>One limiter for the whole stage, partitioned as the user chooses (<see cref="PartitionedRateLimiter.Create{TResource, TPartitionKey}"/>); the user owns and disposes it.</summary>
    public PartitionedRateLimiter<T>? Limiter { get; set; }

    /// <summary>Picks the key <see cref="PerKey"/> limits by; the default (null) is the stage's <c>KeySelector</c>.</summary>
    public Func<T, ItemKey>? KeySelector { get; set; }

    /// <summary>What happens to an item without a permit. The default value is <see cref="RateLimitMode.Shape"/>.</summary>
    [EnumDataType(typeof(RateLimitMode))]
    public RateLimitMode Mode { get; set; } = RateLimitMode.Shape;

    /// <summary>
    /// How long a shaped item waits when the failed lease has no <c>RetryAfter</c> metadata. The default
    /// value is 100 milliseconds; from one millisecond to one hour.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "01:00:00")]
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// How many keys' limiters a shard keeps; past it the least recently used is disposed and forgotten
    /// (counted, <c>RateLimiterEvictions</c>), and that key starts afresh when it next asks. The default
    /// value is 10,000; from 1 to 10,000,000.
    /// </summary>
    [Range(1, 10_000_000)]
    public int MaxKeysPerShard { get; set; } = 10_000;
}
