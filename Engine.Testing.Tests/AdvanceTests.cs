using Engine.Loops;
using Engine.Pipelines;
using Engine.Retry;
using Engine.Stages;

namespace Engine.Testing.Tests;

/// <summary>The harness's "advance": timers fire in due order, the engine runs until idle after each, and the clock ends where it was sent.</summary>
public class AdvanceTests
{
    private static readonly RetryOptions OneSecondRetries = new() { MaxAttempts = 5, BaseDelay = TimeSpan.FromSeconds(1), BackoffMultiplier = 2, JitterRatio = 0, IsTransient = ex => ex is TimeoutException };

    [Test]
    public async Task A_retry_runs_only_once_time_reaches_its_backoff()
    {
        await using var harness = new EngineHarness();
        SinkProbe<string> sink = harness.Sink<string>((s, ctx, ct) => ctx.Attempt == 1 ? ValueTask.FromException(new TimeoutException()) : default);
        Stage<string> stage = harness.Stage(new StageOptions<string> { Name = "store", KeySelector = s => s, Retry = OneSecondRetries }, sink.HandleAsync);
        DateTimeOffset start = harness.Now;

        await stage.WriteAsync("a");
        await harness.AdvanceAsync(TimeSpan.FromMilliseconds(999));
        Assert.That(sink.Count, Is.Zero);

        await harness.AdvanceAsync(TimeSpan.FromMilliseconds(1));
        Assert.That(sink.Received, Has.Count.EqualTo(1));
        Assert.That(sink.Received[0].Attempt, Is.EqualTo(2));
        Assert.That(sink.Received[0].At, Is.EqualTo(start + TimeSpan.FromSeconds(1)));
        Assert.That(harness.Now, Is.EqualTo(start + TimeSpan.FromSeconds(1)));
    }

    [Test]
    public async Task Timers_fire_in_due_order_and_a_retry_that_falls_due_within_the_span_fires_in_the_same_advance()
    {
        await using var harness = new EngineHarness();

        // Key "slow" fails three times (backoffs 1 s, 2 s, 4 s: runs at 0, 1, 3, 7 s); key "fast" once (runs at 0, 1 s);
        // key "late" is written at 0 but fails twice (runs at 0, 1, 3 s).
        var failuresLeft = new Dictionary<string, int> { ["slow"] = 3, ["fast"] = 1, ["late"] = 2 };
        var runs = new List<(string Key, DateTimeOffset At)>();
        var gate = new Lock();
        Stage<string> stage = harness.Stage(
            new StageOptions<string> { Name = "flaky", KeySelector = s => s, Shards = 2, Retry = OneSecondRetries },
            (s, ctx, ct) =>
            {
                lock (gate)
                {
                    runs.Add((s, harness.Now));
                    return failuresLeft[s]-- > 0 ? ValueTask.FromException(new TimeoutException()) : default;
                }
            });
        DateTimeOffset start = harness.Now;
        await stage.WriteAsync("slow");
        await stage.WriteAsync("fast");
        await stage.WriteAsync("late");

        await harness.AdvanceAsync(TimeSpan.FromSeconds(10));

        Assert.That(runs.Where(r => r.Key == "slow").Select(r => r.At - start), Is.EqualTo(new[] { 0, 1, 3, 7 }.Select(s => TimeSpan.FromSeconds(s))));
        Assert.That(runs.Where(r => r.Key == "fast").Select(r => r.At - start), Is.EqualTo(new[] { 0, 1 }.Select(s => TimeSpan.FromSeconds(s))));
        Assert.That(runs.Where(r => r.Key == "late").Select(r => r.At - start), Is.EqualTo(new[] { 0, 1, 3 }.Select(s => TimeSpan.FromSeconds(s))));
        Assert.That(runs.Select(r => r.At), Is.Ordered, "every run happened at its own due time, in due order");
        Assert.That(stage.GetCounts().Processed, Is.EqualTo(3));
        Assert.That(harness.Now, Is.EqualTo(start + TimeSpan.FromSeconds(10)));
    }

    [Test]
    public async Task A_batch_window_flushes_when_the_clock_reaches_it()
    {
        await using var harness = new EngineHarness();
        SinkProbe<IReadOnlyList<int>> sink = harness.Sink<IReadOnlyList<int>>();
        Pipeline<int> pipeline = harness.Pipeline<int>("batches")
            .Batch("batch", size: 100, window: TimeSpan.FromMilliseconds(500))
            .Sink("store", sink.HandleAsync)
            .Build();

        await pipeline.WriteAsync(1);
        await pipeline.WriteAsync(2);
        await harness.RunUntilIdleAsync();
        Assert.That(sink.Count, Is.Zero);
        Assert.That(harness.Describe(), Does.Contain("2 item(s) buffered, waiting for more or for the window to close"));

        await harness.AdvanceAsync(TimeSpan.FromMilliseconds(499));
        Assert.That(sink.Count, Is.Zero);

        await harness.AdvanceAsync(TimeSpan.FromMilliseconds(1));
        Assert.That(sink.Items.Single(), Is.EqualTo(new[] { 1, 2 }));
        Assert.That(sink.Received[0].Age, Is.EqualTo(TimeSpan.FromMilliseconds(500)), "a batch carries its oldest item's entry");
        await harness.CompleteAsync(pipeline);
    }

    [Test]
    public async Task A_periodic_loop_runs_once_per_interval_advanced()
    {
        await using var harness = new EngineHarness();
        var runsAt = new List<DateTimeOffset>();
        harness.Loop(new PeriodicLoopOptions { Name = "resync", Interval = TimeSpan.FromSeconds(2) }, ct =>
        {
            lock (runsAt)
            {
                runsAt.Add(harness.Now);
            }

            return ValueTask.FromResult(new LoopRun(1, 0));
        });
        DateTimeOffset start = harness.Now;

        await harness.AdvanceAsync(TimeSpan.FromSeconds(7));

        Assert.That(runsAt.Select(t => t - start), Is.EqualTo(new[] { 2, 4, 6 }.Select(s => TimeSpan.FromSeconds(s))));
    }

    [Test]
    public async Task Advancing_by_zero_only_runs_until_idle()
    {
        await using var harness = new EngineHarness();
        DateTimeOffset start = harness.Now;
        await harness.AdvanceAsync(TimeSpan.Zero);
        Assert.That(harness.Now, Is.EqualTo(start));
    }
}
