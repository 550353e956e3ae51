using System.Threading.RateLimiting;
using Engine.RateLimits;
using Engine.Routing;
using Engine.Stages;
using Engine.Testing;
using Engine.Timing;

namespace Engine.Tests.Stages;

/// <summary>Rate limits (issue 26): shaping per key on the stage's clock, drops, bounded limiter state, bad input.</summary>
public class RateLimitTests
{
    private static readonly TimeProvider Clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();

    /// <summary>A bucket of <paramref name="burst"/> tokens refilled by one per <paramref name="period"/> on <paramref name="clock"/>.</summary>
    private static Func<ItemKey, RateLimiter> Bucket(int burst, TimeSpan period, TimeProvider? clock = null) => _ => new ClockTokenBucketRateLimiter(
        new TokenBucketRateLimiterOptions { TokenLimit = burst, TokensPerPeriod = 1, ReplenishmentPeriod = period }, clock ?? Clock);

    private static StageOptions<string> Options(RateLimitOptions<string> rateLimit, int capacity = 64) => new()
    {
        Name = "limited",
        KeySelector = s => s.Split(':')[0],
        Shards = 1,
        Capacity = capacity,
        RateLimit = rateLimit,
    };

    [Test]
    public async Task A_shaped_key_runs_within_its_bucket_never_drops_and_other_keys_are_not_held_up()
    {
        await using var harness = new EngineHarness();
        SinkProbe<string> sink = harness.Sink<string>();
        Stage<string> stage = harness.Stage(Options(new RateLimitOptions<string> { PerKey = Bucket(burst: 2, TimeSpan.FromSeconds(1), harness.Clock) }), sink.HandleAsync);
        DateTimeOffset start = harness.Now;

        for (int i = 0; i < 10; i++)
        {
            await stage.WriteAsync($"k:{i}");
        }

        await stage.WriteAsync("j:0");
        await harness.RunUntilIdleAsync();
        Assert.That(sink.Items, Is.EqualTo(new[] { "k:0", "k:1", "j:0" }), "a burst of two, and another key at once");
        Assert.That(stage.GetCounts().WaitingDelayed, Is.EqualTo(1), "k:2 waits on a timer; k:3.. wait behind it (runnable once the key frees)");

        for (int second = 1; second <= 8; second++)
        {
            await harness.AdvanceAsync(TimeSpan.FromSeconds(1));
            int ran = sink.Items.Count(s => s.StartsWith("k:", StringComparison.Ordinal));
            Assert.That(ran, Is.EqualTo(2 + second), $"at {second} s: the burst plus one per second");
        }

        Assert.That(sink.Items.Where(s => s.StartsWith("k:", StringComparison.Ordinal)), Is.EqualTo(Enumerable.Range(0, 10).Select(i => $"k:{i}")), "in order");
        Assert.That(sink.Received.Where(r => r.Item.StartsWith("k:", StringComparison.Ordinal)).Skip(2).Select(r => r.At - start), Is.EqualTo(Enumerable.Range(1, 8).Select(s => TimeSpan.FromSeconds(s))));
        StageCounts counts = await harness.CompleteAsync(stage);
        Assert.Multiple(() =>
        {
            Assert.That(counts.Processed, Is.EqualTo(11));
            Assert.That(counts.Dropped, Is.Zero);
            Assert.That(counts.RateLimited, Is.EqualTo(8), "each of k:2..k:9 waited once, for the lease's RetryAfter");
            Assert.That((counts.HandlerErrors, counts.Retries), Is.EqualTo((0L, 0L)));
        });
    }

    [Test]
    public async Task Shaped_items_count_against_the_hold_limit_so_writers_feel_backpressure()
    {
        await using var harness = new EngineHarness();
        SinkProbe<string> sink = harness.Sink<string>();
        Stage<string> stage = harness.Stage(Options(new RateLimitOptions<string> { PerKey = Bucket(burst: 1, TimeSpan.FromSeconds(1), harness.Clock) }, capacity: 2), sink.HandleAsync);

        // Held: a shaped a:1 (timer), b:1 parked behind it is not possible (other key): use one key so items park.
        var writes = new List<Task>();
        for (int i = 0; i < 8; i++)
        {
            writes.Add(stage.WriteAsync($"a:{i}").AsTask());
        }

        await harness.RunUntilIdleAsync();
        Assert.That(writes.Count(w => !w.IsCompleted), Is.GreaterThan(0), "writers wait: the shard holds its limit and its channel is full");
        Assert.That(stage.GetCounts().Pending, Is.LessThanOrEqualTo(2 + 2 + 1), "channel + held + the running one");

        await harness.AdvanceAsync(TimeSpan.FromSeconds(10));
        await Task.WhenAll(writes).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.That(sink.Count, Is.EqualTo(8));
    }

    [Test]
    public async Task In_Drop_mode_an_item_without_a_permit_is_dropped_and_counted()
    {
        await using var harness = new EngineHarness();
        var dropped = new List<(string, DropReason)>();
        SinkProbe<string> sink = harness.Sink<string>();
        StageOptions<string> options = Options(new RateLimitOptions<string> { PerKey = Bucket(burst: 1, TimeSpan.FromSeconds(1), harness.Clock), Mode = RateLimitMode.Drop });
        options.OnDropped = (s, reason) => dropped.Add((s, reason));
        Stage<string> stage = harness.Stage(options, sink.HandleAsync);

        await stage.WriteAsync("k:1");
        await stage.WriteAsync("k:2");
        await stage.WriteAsync("k:3");
        StageCounts counts = await harness.CompleteAsync(stage);
        Assert.Multiple(() =>
        {
            Assert.That(sink.Items, Is.EqualTo(new[] { "k:1" }));
            Assert.That(dropped, Is.EqualTo(new[] { ("k:2", DropReason.RateLimited), ("k:3", DropReason.RateLimited) }));
            Assert.That(counts.DroppedRateLimited, Is.EqualTo(2));
            Assert.That(counts.Accepted, Is.EqualTo(counts.Processed + counts.Dropped));
        });
    }

    [Test]
    public async Task Per_key_limiters_are_bounded_least_recently_used_first_and_evictions_are_counted()
    {
        await using var harness = new EngineHarness();
        var made = new List<string>();
        Func<ItemKey, RateLimiter> bucket = Bucket(burst: 1, TimeSpan.FromSeconds(1), harness.Clock);
        Stage<string> stage = harness.Stage(
            Options(new RateLimitOptions<string> { PerKey = key => { made.Add(key.ToString()); return bucket(key); }, MaxKeysPerShard = 2 }),
            harness.Sink<string>().HandleAsync);

        await stage.WriteAsync("a:1");
        await stage.WriteAsync("b:1");
        await stage.WriteAsync("a:2"); // a is the most recently used now: b is evicted by c
        await harness.RunUntilIdleAsync();
        await stage.WriteAsync("c:1");
        await stage.WriteAsync("b:2");
        await harness.RunUntilIdleAsync();
        StageCounts counts = stage.GetCounts();
        Assert.That(made, Is.EqualTo(new[] { "a", "b", "c", "b" }));
        Assert.That(counts.RateLimiterEvictions, Is.EqualTo(2));
        await harness.CompleteAsync(stage);
    }

    [Test]
    public async Task A_throwing_limiter_fails_the_run_with_an_error_naming_the_option()
    {
        await using var harness = new EngineHarness();
        var failures = new List<Exception>();
        StageOptions<string> options = Options(new RateLimitOptions<string> { PerKey = _ => throw new InvalidOperationException("boom") });
        options.OnDeadLetter = (_, failure) => failures.Add(failure.Exception);
        Stage<string> stage = harness.Stage(options, harness.Sink<string>().HandleAsync);

        await stage.WriteAsync("k:1");
        StageCounts counts = await harness.CompleteAsync(stage);
        Assert.That(counts.DeadLettered, Is.EqualTo(1));
        Assert.That(failures.Single().Message, Does.Contain("options.RateLimit.PerKey"));
    }

    [Test]
    public void Bad_rate_limit_options_fail_creation_naming_the_option()
    {
        string Fails(RateLimitOptions<string> rateLimit) =>
            Assert.Throws<ArgumentException>(() => Stage.Create(Options(rateLimit), (string _, CancellationToken _) => default))!.ParamName!;

        Func<ItemKey, RateLimiter> bucket = Bucket(1, TimeSpan.FromSeconds(1));
        Assert.Multiple(() =>
        {
            Assert.That(Fails(new RateLimitOptions<string>()), Is.EqualTo("options.RateLimit.PerKey"));
            Assert.That(Fails(new RateLimitOptions<string> { PerKey = bucket, MaxKeysPerShard = 0 }), Is.EqualTo("options.RateLimit.MaxKeysPerShard"));
            Assert.That(Fails(new RateLimitOptions<string> { PerKey = bucket, RetryDelay = TimeSpan.Zero }), Is.EqualTo("options.RateLimit.RetryDelay"));
            Assert.That(Fails(new RateLimitOptions<string> { PerKey = bucket, Mode = (RateLimitMode)7 }), Is.EqualTo("options.RateLimit.Mode"));
        });
    }

    [Test]
    public async Task A_partitioned_limiter_the_user_brings_limits_the_stage()
    {
        await using var harness = new EngineHarness();
        using PartitionedRateLimiter<string> limiter = PartitionedRateLimiter.Create<string, int>(_ => RateLimitPartition.GetFixedWindowLimiter(0, _ => new FixedWindowRateLimiterOptions { PermitLimit = 2, Window = TimeSpan.FromHours(1), QueueLimit = 0 }));
        var dropped = new List<string>();
        StageOptions<string> options = Options(new RateLimitOptions<string> { Limiter = limiter, Mode = RateLimitMode.Drop });
        options.OnDropped = (s, _) => dropped.Add(s);
        Stage<string> stage = harness.Stage(options, harness.Sink<string>().HandleAsync);

        // Two permits an hour of real time: the third run gets none.
        foreach (string item in new[] { "a:1", "b:1", "c:1" })
        {
            await stage.WriteAsync(item);
        }

        StageCounts counts = await harness.CompleteAsync(stage);
        Assert.That((counts.Processed, counts.DroppedRateLimited), Is.EqualTo((2L, 1L)));
        Assert.That(dropped, Is.EqualTo(new[] { "c:1" }));
    }
}
