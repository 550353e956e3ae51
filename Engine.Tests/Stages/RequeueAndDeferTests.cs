using Engine.Retry;
using Engine.Stages;
using Engine.Testing;
using Engine.Timing;

namespace Engine.Tests.Stages;

/// <summary>A handler's requeue and deferral (issue 26): not failures, not attempts, key order kept.</summary>
public class RequeueAndDeferTests
{
    private static StageOptions<string> Options(int maxAttempts = 1) => new()
    {
        Name = "handler",
        KeySelector = s => s.Split(':')[0],
        Shards = 1,
        Delays = new DelayOptions { MaxDelay = TimeSpan.FromMinutes(1) },
        Retry = maxAttempts > 1 ? new RetryOptions { MaxAttempts = maxAttempts, BaseDelay = TimeSpan.FromSeconds(1), JitterRatio = 0 } : null,
    };

    [Test]
    public async Task A_requeued_item_runs_again_after_its_delay_with_its_attempt_unchanged_and_its_key_s_later_items_behind_it()
    {
        await using var harness = new EngineHarness();
        int requeues = 0;
        SinkProbe<string> sink = harness.Sink<string>((s, ctx, ct) => s == "k:1" && requeues++ < 2 ? throw new RequeueException(TimeSpan.FromSeconds(3)) : default);
        var errors = new List<ItemFailure>();
        StageOptions<string> options = Options();
        options.OnHandlerError = (_, failure) => errors.Add(failure);
        Stage<string> stage = harness.Stage(options, sink.HandleAsync);
        DateTimeOffset start = harness.Now;

        await stage.WriteAsync("k:1");
        await stage.WriteAsync("k:2");
        await stage.WriteAsync("j:1");
        await harness.RunUntilIdleAsync();
        Assert.That(sink.Items, Is.EqualTo(new[] { "j:1" }));
        Assert.That(stage.GetCounts().WaitingDelayed, Is.EqualTo(1));

        await harness.AdvanceAsync(TimeSpan.FromSeconds(6));
        Assert.That(sink.Received.Select(r => (r.Item, r.Attempt, r.At - start)), Is.EqualTo(new[]
        {
            ("j:1", 1, TimeSpan.Zero), ("k:1", 1, TimeSpan.FromSeconds(6)), ("k:2", 1, TimeSpan.FromSeconds(6)),
        }));
        StageCounts counts = await harness.CompleteAsync(stage);
        Assert.Multiple(() =>
        {
            Assert.That(counts.Requeued, Is.EqualTo(2));
            Assert.That((counts.HandlerErrors, counts.Retries, counts.DeadLettered), Is.EqualTo((0L, 0L, 0L)));
            Assert.That(errors, Is.Empty, "a requeue is not a handler error");
            Assert.That(counts.Processed, Is.EqualTo(3));
            Assert.That(counts.IsConserved, Is.True);
        });
    }

    [Test]
    public async Task A_deferral_is_not_charged_to_MaxAttempts_and_waits_as_a_retry_does()
    {
        await using var harness = new EngineHarness();
        int deferrals = 0;
        SinkProbe<string> sink = harness.Sink<string>((s, ctx, ct) => deferrals++ < 4 ? throw new DeferException(TimeSpan.FromSeconds(30), "429 Too Many Requests") : default);
        var deadLetters = new List<string>();
        StageOptions<string> options = Options(maxAttempts: 2);
        options.OnDeadLetter = (s, _) => deadLetters.Add(s);
        Stage<string> stage = harness.Stage(options, sink.HandleAsync);
        DateTimeOffset start = harness.Now;

        await stage.WriteAsync("k:1");
        await harness.RunUntilIdleAsync();
        StageCounts waiting = stage.GetCounts();
        Assert.That((waiting.WaitingRetry, waiting.WaitingDelayed, waiting.Deferred), Is.EqualTo((1L, 0L, 1L)));

        await harness.AdvanceAsync(TimeSpan.FromSeconds(120));
        Assert.That(sink.Received.Select(r => (r.Attempt, r.At - start)), Is.EqualTo(new[] { (1, TimeSpan.FromSeconds(120)) }));
        StageCounts counts = await harness.CompleteAsync(stage);
        Assert.Multiple(() =>
        {
            Assert.That(deadLetters, Is.Empty, "four deferrals with MaxAttempts 2 dead-letter nothing");
            Assert.That((counts.Deferred, counts.Retries, counts.HandlerErrors), Is.EqualTo((4L, 0L, 0L)));
            Assert.That(counts.Processed, Is.EqualTo(1));
        });
    }

    [Test]
    public async Task A_deferral_longer_than_MaxDelay_waits_MaxDelay()
    {
        await using var harness = new EngineHarness();
        bool deferred = false;
        SinkProbe<string> sink = harness.Sink<string>((s, ctx, ct) => !deferred && (deferred = true) ? throw new DeferException(TimeSpan.FromHours(5)) : default);
        Stage<string> stage = harness.Stage(Options(), sink.HandleAsync);
        DateTimeOffset start = harness.Now;

        await stage.WriteAsync("k:1");
        await harness.AdvanceAsync(TimeSpan.FromMinutes(1));
        Assert.That(sink.Received.Select(r => r.At - start), Is.EqualTo(new[] { TimeSpan.FromMinutes(1) }));
    }

    [Test]
    public async Task Without_Delays_a_requeue_is_an_ordinary_failure()
    {
        await using var harness = new EngineHarness();
        var deadLetters = new List<Exception>();
        Stage<string> stage = harness.Stage(
            new StageOptions<string> { Name = "plain", KeySelector = s => s, OnDeadLetter = (_, failure) => deadLetters.Add(failure.Exception) },
            (string s, CancellationToken ct) => throw new RequeueException(TimeSpan.FromSeconds(1)));

        await stage.WriteAsync("a");
        StageCounts counts = await harness.CompleteAsync(stage);
        Assert.That((counts.DeadLettered, counts.Requeued), Is.EqualTo((1L, 0L)));
        Assert.That(deadLetters.Single(), Is.TypeOf<RequeueException>());
    }

    [Test]
    public async Task An_abort_abandons_requeued_and_deferred_items()
    {
        await using var harness = new EngineHarness();
        Stage<string> stage = harness.Stage(Options(), (string s, CancellationToken ct) =>
            s.StartsWith('r') ? throw new RequeueException(TimeSpan.FromSeconds(10)) : throw new DeferException(TimeSpan.FromSeconds(10)));

        await stage.WriteAsync("r:1");
        await stage.WriteAsync("d:1");
        await stage.WriteAsync("r:2");
        await harness.RunUntilIdleAsync();
        StageCounts counts = await stage.AbortAsync();
        Assert.Multiple(() =>
        {
            Assert.That(counts.Abandoned, Is.EqualTo(3));
            Assert.That(counts.Accepted, Is.EqualTo(counts.Processed + counts.DeadLettered + counts.Dropped + counts.Superseded + counts.Abandoned));
            Assert.That((counts.Waiting, counts.WaitingDelayed, counts.WaitingRetry), Is.EqualTo((0L, 0L, 0L)));
        });
    }

    [Test]
    public void Negative_requeue_and_deferral_delays_are_refused_naming_the_argument()
    {
        Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => _ = new RequeueException(TimeSpan.FromTicks(-1)))!.ParamName, Is.EqualTo("delay"));
        Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => _ = new DeferException(TimeSpan.FromTicks(-1)))!.ParamName, Is.EqualTo("retryAfter"));
    }
}
