using TokenBucketRateLimiterOptions = System.Threading.RateLimiting.TokenBucketRateLimiterOptions;
using Engine.Dedupe;
using Engine.Limiters;
using Engine.Pipelines;
using Engine.RateLimits;
using Engine.Retry;
using Engine.Timing;

namespace Engine.Demo;

/// <summary>
/// The demo pipeline: ingest (replace-pending and content dedupe) → enrich (simulated I/O behind a
/// concurrency limiter, replace-pending dedupe, a per-entity rate limit that shapes, "busy, try
/// again" answers requeued, transient failures retried, permanent ones dead-lettered) → detect (CPU work, 0..2 alerts re-keyed by namespace) → batch (per namespace, a
/// keyed window) → store.
/// </summary>
internal static class DemoPipeline
{
    public static Pipeline<StateUpdate> Build(DemoOptions options, ConcurrencyLimiter limiter, DemoIo? io = null)
    {
        io ??= DemoIo.Real;
        return Pipeline.Create<StateUpdate>("demo", io.Clock)
            .Then<StateUpdate>(
                "ingest",
                (u, _) => ValueTask.FromResult(u),
                o =>
                {
                    o.KeySelector = u => u.Entity;
                    o.Shards = options.Shards;
                    o.Capacity = options.Capacity;
                    o.KindSelector = u => u.Kind;
                    o.Dedupe = new DedupeOptions<StateUpdate> { Mode = DedupeMode.Replace, ContentHash = u => u.ContentHash, IsTombstone = u => u.Deleted };
                })
            .Then<StateUpdate>(
                "enrich",
                async (u, ct) =>
                {
                    await EnrichAsync(u, limiter, io, ct, requeueWhenBusy: true);
                    return u;
                },
                o =>
                {
                    o.KeySelector = u => u.Entity;
                    o.Shards = options.Shards;
                    o.WorkersPerShard = options.Workers;

                    // Unkeyed messages (3% of the load) share one shard; with its single default worker
                    // they ran one at a time at ~250/s behind the simulated I/O, which is what kept
                    // --rate 0 draining for seconds after the load stopped (its queue sat at the full
                    // 1024). They promise no order, so they get as many workers as the I/O limiter allows.
                    o.UnkeyedWorkers = 16;
                    o.Capacity = options.Capacity;
                    o.Retry = EnrichRetry();

                    // Dedupe where the work is slow: ingest is instant, so its queues rarely hold two
                    // updates of one key, while a hot key's updates pile up here behind its one-at-a-time
                    // I/O; here a burst collapses into the newest update.
                    o.Dedupe = new DedupeOptions<StateUpdate> { Mode = DedupeMode.Replace };

                    // The simulated service allows each entity 60 calls a second (6 per 100 ms, bursts of
                    // 10): a hot entity's updates wait on a timer with its key busy (the live view's
                    // "rate-limited", and depth "delayed") while other entities go on, and the dedupe above
                    // collapses what piles up behind it. Its "busy, try again" answers are requeued (not
                    // failures). Why 60: the 20 hottest entities get about 50 updates a second each, so a
                    // limit of 50 a second (bursts of 50) kept them at the limit for the whole run and
                    // end-to-end p99 of the 15 s demo rose from 0.6 s without a limit to 5.5 s; at 60
                    // bursts are shaped (about 2,300 throttled attempts in 15 s) and p99 stays near
                    // 1.3 s; at 80 nothing was ever throttled. Under the CI soak's ten-fold overload
                    // (20,000 a second) the hot entities stay far over any such limit and p99 reaches
                    // 85-89 s at 50 and at 60 alike: shaping holds, it does not drop.
                    o.RateLimit = new RateLimitOptions<StateUpdate>
                    {
                        PerKey = _ => new ClockTokenBucketRateLimiter(
                            new TokenBucketRateLimiterOptions { TokenLimit = 10, TokensPerPeriod = 6, ReplenishmentPeriod = TimeSpan.FromMilliseconds(100) }, io.Clock),
                    };
                    o.Delays = new DelayOptions { MaxDelay = TimeSpan.FromSeconds(10) };
                })
            .Then<Alert>(
                "detect",
                (u, emit, _) =>
                {
                    Detect(u, emit);
                    return default;
                },
                o =>
                {
                    o.KeySelector = a => a.Namespace;
                    o.Shards = options.Shards;
                    o.Capacity = options.Capacity;
                })
            // Per-namespace batches (a keyed window): each namespace's alerts go to the store together,
            // up to 100 or whatever that namespace gathered within 500 ms; the live view shows its windows.
            .BatchByKey("batch", size: 100, maxWait: TimeSpan.FromMilliseconds(500), o =>
            {
                o.Stage.KeySelector = a => a.Namespace;
                o.Stage.Shards = options.Shards;
                o.Stage.Capacity = options.Capacity;
            })
            .Sink("store", async (alerts, _, ct) => await Task.Delay(TimeSpan.FromMilliseconds(2), io.Clock, ct), o => o.Capacity = 64)
            .Build();
    }

    /// <summary>The enrich step's retries (shared with the distributed demo's members): timeouts are transient, 4 attempts from 20 ms.</summary>
    public static RetryOptions EnrichRetry() => new() { MaxAttempts = 4, BaseDelay = TimeSpan.FromMilliseconds(20), IsTransient = ex => ex is TimeoutException };

    /// <summary>
    /// The enrich step's work, shared with the distributed demo's members: a simulated service call
    /// behind the limiter that fails transiently 2% of the time (<see cref="TimeoutException"/>) and
    /// permanently 0.2% (<see cref="InvalidDataException"/>).
    /// </summary>
    public static ValueTask EnrichAsync(StateUpdate u, ConcurrencyLimiter limiter, CancellationToken ct) => EnrichAsync(u, limiter, DemoIo.Real, ct);

    /// <summary>
    /// The enrich step's work on <paramref name="io"/>'s clock, latency and rolls; with
    /// <paramref name="requeueWhenBusy"/> the service also answers "busy" 0.5% of the time, and the
    /// item is requeued for 100 ms (<see cref="RequeueException"/>: not a failure, not an attempt).
    /// </summary>
    public static async ValueTask EnrichAsync(StateUpdate u, ConcurrencyLimiter limiter, DemoIo io, CancellationToken ct, bool requeueWhenBusy = false)
    {
        using ConcurrencyLimiter.Lease lease = await limiter.AcquireAsync(ct);
        await Task.Delay(io.Latency(), io.Clock, ct);
        double roll = io.Roll(u);
        if (roll < 0.02)
        {
            throw new TimeoutException("simulated transient failure");
        }

        if (roll < 0.022)
        {
            throw new InvalidDataException("simulated permanent failure");
        }

        if (requeueWhenBusy && roll < 0.027)
        {
            throw new RequeueException(TimeSpan.FromMilliseconds(100));
        }
    }

    /// <summary>The detect step's work, shared with the distributed demo's members: CPU work standing in for rule evaluation, then 0..2 alerts keyed by namespace.</summary>
    public static void Detect(StateUpdate u, Emit<Alert> emit)
    {
        ulong h = u.ContentHash;
        for (int i = 0; i < 200; i++)
        {
            h = (h ^ (h >> 31)) * 0x9E3779B97F4A7C15UL;
        }

        for (int i = 0; i < (int)(h % 3); i++)
        {
            emit(new Alert(u.Namespace, u.Entity, (int)(h % 100)));
        }
    }

    /// <summary>
    /// A service call's latency: log-normal with a median of 2 ms and a long tail (p99 about 11 ms),
    /// the usual shape of I/O latency.
    /// </summary>
    public static TimeSpan IoLatency()
    {
        // Box-Muller: a standard normal from two uniforms.
        double u1 = 1.0 - Random.Shared.NextDouble();
        double u2 = Random.Shared.NextDouble();
        double normal = Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
        return TimeSpan.FromMilliseconds(Math.Min(200, 2.0 * Math.Exp(0.75 * normal)));
    }
}
