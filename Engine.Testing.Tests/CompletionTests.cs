using Engine.Retry;
using Engine.Stages;

namespace Engine.Testing.Tests;

/// <summary>Completing and disposing through the harness: it drives the clock to drain, and says when it cannot.</summary>
public class CompletionTests
{
    [Test]
    public async Task Disposing_the_harness_drains_its_stages_by_advancing_to_their_retries_and_checks_their_counts()
    {
        var harness = new EngineHarness();
        SinkProbe<string> sink = harness.Sink<string>((s, ctx, ct) => ctx.Attempt < 3 ? ValueTask.FromException(new TimeoutException()) : default);
        Stage<string> stage = harness.Stage(
            new StageOptions<string> { Name = "stubborn", KeySelector = s => s, Retry = new RetryOptions { MaxAttempts = 3, BaseDelay = TimeSpan.FromMinutes(1), MaxDelay = TimeSpan.FromMinutes(10), JitterRatio = 0 } },
            sink.HandleAsync);
        DateTimeOffset start = harness.Now;
        await stage.WriteAsync("a");

        await harness.DisposeAsync();

        Assert.That(stage.Completion.IsCompletedSuccessfully, Is.True);
        Assert.That(sink.Received.Single().Attempt, Is.EqualTo(3));
        Assert.That(harness.Now - start, Is.EqualTo(TimeSpan.FromMinutes(3)), "backoffs of 1 and 2 minutes");
        Assert.That(stage.GetCounts().Processed, Is.EqualTo(1));
    }

    [Test]
    public async Task Completing_a_stage_that_cannot_finish_within_the_drain_limit_says_why()
    {
        await using var harness = new EngineHarness(new EngineHarnessOptions { MaxDrainTime = TimeSpan.FromMinutes(1), IdleTimeout = TimeSpan.FromMilliseconds(500) });
        Stage<string> stage = harness.Stage(new StageOptions<string> { Name = "hour-long", KeySelector = s => s }, async (s, ct) => await Task.Delay(TimeSpan.FromHours(1), harness.Clock, ct));
        await stage.WriteAsync("a");

        var error = Assert.ThrowsAsync<EngineHarnessException>(() => harness.CompleteAsync(stage));

        Assert.That(error!.Message, Does.Contain("The harness cannot complete stage 'hour-long'").And.Contain("past the drain limit").And.Contain("waiting for a timer of the clock"));

        // Still drivable: an hour later the run ends and the stage completes.
        await harness.AdvanceAsync(TimeSpan.FromHours(1));
        Assert.That(stage.Completion.IsCompletedSuccessfully, Is.True);
    }
}
