using Engine.Pipelines;
using Engine.Retry;
using Engine.Stages;

namespace Engine.Testing.Tests;

/// <summary>The harness's "run until idle": it returns once nothing can happen without the clock, and only then.</summary>
public class RunUntilIdleTests
{
    [Test]
    public async Task Every_item_has_reached_the_sink_when_run_until_idle_returns()
    {
        await using var harness = new EngineHarness();
        SinkProbe<int> sink = harness.Sink<int>();
        Pipeline<int> pipeline = harness.Pipeline<int>("numbers")
            .Then<int>("double", (n, ct) => ValueTask.FromResult(n * 2), o => { o.KeySelector = n => n % 7; o.Shards = 3; o.WorkersPerShard = 2; })
            .Sink("store", sink.HandleAsync)
            .Build();

        for (int i = 0; i < 500; i++)
        {
            await pipeline.WriteAsync(i);
        }

        await harness.RunUntilIdleAsync();

        Assert.That(sink.Items.Order(), Is.EqualTo(Enumerable.Range(0, 500).Select(i => i * 2)));
        PipelineCounts counts = await harness.CompleteAsync(pipeline);
        Assert.That(counts.Stages.Select(s => s.Counts.Processed), Is.EqualTo(new long[] { 500, 500 }));
    }

    [Test]
    public async Task A_handler_waiting_on_the_clock_leaves_the_engine_idle_and_an_advance_finishes_it()
    {
        await using var harness = new EngineHarness();
        SinkProbe<string> sink = harness.Sink<string>(async (s, ctx, ct) => await Task.Delay(TimeSpan.FromSeconds(2), harness.Clock, ct));
        Stage<string> stage = harness.Stage(new StageOptions<string> { Name = "slow-io", KeySelector = s => s }, sink.HandleAsync);

        await stage.WriteAsync("a");
        await stage.WriteAsync("b");
        await harness.RunUntilIdleAsync();
        Assert.That(sink.Count, Is.Zero, "both runs wait for the clock");
        Assert.That(harness.Describe(), Does.Contain("waiting for a timer of the clock"));

        await harness.AdvanceAsync(TimeSpan.FromSeconds(2));

        Assert.That(sink.Items, Is.EquivalentTo(new[] { "a", "b" }));
        Assert.That(sink.Received.Select(r => r.Age), Is.All.EqualTo(TimeSpan.FromSeconds(2)));
    }

    [Test]
    public async Task A_retry_waiting_for_its_backoff_does_not_keep_the_engine_busy()
    {
        await using var harness = new EngineHarness();
        int runs = 0;
        Stage<string> stage = harness.Stage(
            new StageOptions<string> { Name = "flaky", KeySelector = s => s, Retry = new RetryOptions { MaxAttempts = 3, BaseDelay = TimeSpan.FromSeconds(1), JitterRatio = 0 } },
            (s, ct) => Interlocked.Increment(ref runs) == 1 ? ValueTask.FromException(new TimeoutException("first run fails")) : default);

        await stage.WriteAsync("x");
        await harness.RunUntilIdleAsync();

        Assert.That(runs, Is.EqualTo(1));
        Assert.That(stage.GetCounts().Pending, Is.EqualTo(1));
        Assert.That(harness.Describe(), Does.Contain("'flaky' shard").And.Contain("key 'x': waiting for its retry's backoff (attempt 1 failed)"));
    }

    [Test]
    public async Task A_source_probe_feeds_items_with_backpressure_and_counts_as_work_until_written()
    {
        await using var harness = new EngineHarness();
        SinkProbe<int> sink = harness.Sink<int>(async (n, ctx, ct) => await Task.Delay(TimeSpan.FromMilliseconds(10), harness.Clock, ct));
        Stage<int> stage = harness.Stage(new StageOptions<int> { Name = "narrow", Capacity = 1, Shards = 1, KeySelector = n => n }, sink.HandleAsync);
        SourceProbe<int> source = harness.Source(stage);

        source.Send(Enumerable.Range(1, 5));
        await harness.RunUntilIdleAsync();

        // One in the handler, one in the channel, the third write waiting for room: all for the clock.
        Assert.That(source.Written, Is.EqualTo(2));
        Assert.That(harness.Describe(), Does.Contain("a write waits for room"));

        await harness.AdvanceAsync(TimeSpan.FromMilliseconds(50));

        Assert.That(sink.Items, Is.EqualTo(new[] { 1, 2, 3, 4, 5 }));
        Assert.That(source.Written, Is.EqualTo(5));
    }
}
