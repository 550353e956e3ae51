using System.Threading.RateLimiting;
using Engine.Dedupe;
using Engine.RateLimits;
using Engine.Stages;
using Engine.Timing;

namespace Engine.Testing.Tests;

/// <summary>
/// Items that wait for their time (issue 26) wait for the clock: the harness is idle while they wait,
/// says why, and releases them exactly when the clock reaches them.
/// </summary>
public class TimedHoldTests
{
    [Test]
    public async Task Delayed_rate_limited_requeued_and_debounced_items_leave_the_harness_idle_until_the_clock_reaches_them()
    {
        await using var harness = new EngineHarness();
        bool requeued = false;
        SinkProbe<string> sink = harness.Sink<string>((s, ctx, ct) => s == "r:1" && !requeued && (requeued = true) ? throw new RequeueException(TimeSpan.FromSeconds(4)) : default);
        Stage<string> delayed = harness.Stage(
            new StageOptions<string>
            {
                Name = "delayed",
                KeySelector = s => s.Split(':')[0],
                Delays = new DelayOptions(),
                RateLimit = new RateLimitOptions<string>
                {
                    PerKey = _ => new ClockTokenBucketRateLimiter(new TokenBucketRateLimiterOptions { TokenLimit = 1, TokensPerPeriod = 1, ReplenishmentPeriod = TimeSpan.FromSeconds(2) }, harness.Clock),
                },
            },
            sink.HandleAsync);
        Stage<string> debounced = harness.Stage(
            new StageOptions<string>
            {
                Name = "debounced",
                KeySelector = s => s.Split(':')[0],
                Dedupe = new DedupeOptions<string> { Mode = DedupeMode.Replace },
                Debounce = new DebounceOptions { QuietPeriod = TimeSpan.FromSeconds(3), MaxWait = TimeSpan.FromSeconds(10) },
            },
            sink.HandleAsync);
        DateTimeOffset start = harness.Now;

        await delayed.WriteAsync("d:1", TimeSpan.FromSeconds(1));
        await delayed.WriteAsync("l:1");
        await delayed.WriteAsync("l:2");
        await delayed.WriteAsync("r:1");
        await debounced.WriteAsync("b:1");
        await debounced.WriteAsync("b:2");
        await harness.RunUntilIdleAsync();

        Assert.That(sink.Items, Is.EquivalentTo(new[] { "l:1" }));
        string described = harness.Describe();
        Assert.Multiple(() =>
        {
            Assert.That(described, Does.Contain("waiting for its time (delay)"));
            Assert.That(described, Does.Contain("waiting for its time (ratelimit)"));
            Assert.That(described, Does.Contain("waiting for its time (requeue)"));
            Assert.That(described, Does.Contain("waiting for its time (debounce)"));
        });

        await harness.AdvanceAsync(TimeSpan.FromSeconds(4));
        Assert.That(sink.Received.Select(r => (r.Item, r.At - start)), Is.EquivalentTo(new[]
        {
            ("l:1", TimeSpan.Zero), ("d:1", TimeSpan.FromSeconds(1)), ("l:2", TimeSpan.FromSeconds(2)), ("b:2", TimeSpan.FromSeconds(3)), ("r:1", TimeSpan.FromSeconds(4)),
        }));

        StageCounts counts = await harness.CompleteAsync(delayed);
        Assert.That((counts.Delayed, counts.RateLimited, counts.Requeued, counts.Processed), Is.EqualTo((1L, 1L, 1L, 4L)));
        Assert.That((await harness.CompleteAsync(debounced)).SupersededDelayed, Is.EqualTo(1));
    }

    [Test]
    public async Task Completing_a_stage_drives_the_clock_through_its_delayed_items()
    {
        await using var harness = new EngineHarness();
        SinkProbe<string> sink = harness.Sink<string>();
        Stage<string> stage = harness.Stage(new StageOptions<string> { Name = "later", KeySelector = s => s, Delays = new DelayOptions() }, sink.HandleAsync);
        DateTimeOffset start = harness.Now;

        await stage.WriteAsync("a", TimeSpan.FromMinutes(5));
        StageCounts counts = await harness.CompleteAsync(stage);
        Assert.That(counts.Processed, Is.EqualTo(1));
        Assert.That(sink.Received.Single().At - start, Is.EqualTo(TimeSpan.FromMinutes(5)));
    }
}
