using Engine.Loops;
using Engine.Pipelines;
using Engine.Stages;

namespace Engine.Testing.Tests;

/// <summary>Bad input and stuck handlers: each a clear exception naming what.</summary>
public class HarnessErrorTests
{
    [Test]
    public async Task Advancing_by_a_negative_span_is_refused_naming_the_argument()
    {
        await using var harness = new EngineHarness();
        var error = Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => harness.AdvanceAsync(TimeSpan.FromMilliseconds(-1)));
        Assert.That(error!.ParamName, Is.EqualTo("by"));
        Assert.That(error.Message, Does.Contain("only moves forward"));
    }

    [Test]
    public async Task A_pipeline_built_outside_the_harness_is_refused_naming_it_and_the_way_to_build_it()
    {
        await using var harness = new EngineHarness();
        await using Pipeline<int> outside = Pipeline.Create<int>("elsewhere").Sink("store", (n, ct) => default).Build();

        var source = Assert.Throws<ArgumentException>(() => harness.Source(outside));
        Assert.That(source!.ParamName, Is.EqualTo("pipeline"));
        Assert.That(source.Message, Does.Contain("Pipeline 'elsewhere' was built outside the harness").And.Contain("harness.Pipeline<T>(\"elsewhere\")"));
        Assert.ThrowsAsync<ArgumentException>(() => harness.CompleteAsync(outside));
    }

    [Test]
    public async Task A_stage_built_outside_the_harness_is_refused_naming_it()
    {
        await using var harness = new EngineHarness();
        await using Stage<int> outside = Stage.Create(new StageOptions<int> { Name = "loose" }, (n, ct) => default);

        var error = Assert.Throws<ArgumentException>(() => harness.Source(outside));
        Assert.That(error!.ParamName, Is.EqualTo("stage"));
        Assert.That(error.Message, Does.Contain("Stage 'loose' was built outside the harness"));
    }

    [Test]
    public async Task Options_that_name_another_clock_are_refused_naming_the_option()
    {
        await using var harness = new EngineHarness();
        var other = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();

        var stage = Assert.Throws<ArgumentException>(() => harness.Stage(new StageOptions<int> { Name = "s", TimeProvider = other }, (n, ct) => default));
        Assert.That(stage!.ParamName, Is.EqualTo("options"));
        Assert.That(stage.Message, Does.Contain("Stage 's': options.TimeProvider is another clock"));

        var loop = Assert.Throws<ArgumentException>(() => harness.Loop(new PeriodicLoopOptions { Name = "l", TimeProvider = other }, ct => default));
        Assert.That(loop!.Message, Does.Contain("PeriodicLoop 'l': options.TimeProvider is another clock"));
    }

    [Test]
    public async Task A_view_of_a_stage_the_harness_never_saw_names_what_it_did_see()
    {
        await using var harness = new EngineHarness();
        harness.Stage(new StageOptions<int> { Name = "known" }, (n, ct) => default);

        var error = Assert.Throws<ArgumentException>(() => harness.View<int>("unknown"));
        Assert.That(error!.Message, Does.Contain("No stage 'unknown'").And.Contain("'known' (stage)"));
    }

    [Test]
    public async Task Bad_harness_options_are_refused_naming_the_option()
    {
        var idle = Assert.Throws<ArgumentOutOfRangeException>(() => _ = new EngineHarness(new EngineHarnessOptions { IdleTimeout = TimeSpan.Zero }));
        Assert.That(idle!.Message, Does.Contain("EngineHarnessOptions.IdleTimeout"));
        var drain = Assert.Throws<ArgumentOutOfRangeException>(() => _ = new EngineHarness(new EngineHarnessOptions { MaxDrainTime = TimeSpan.FromSeconds(-1) }));
        Assert.That(drain!.Message, Does.Contain("EngineHarnessOptions.MaxDrainTime"));
        await Task.CompletedTask;
    }

    [Test]
    public async Task Waiting_for_idle_while_a_handler_blocks_on_real_io_fails_naming_the_stage_shard_and_key()
    {
        await using var harness = new EngineHarness(new EngineHarnessOptions { IdleTimeout = TimeSpan.FromMilliseconds(200) });
        var realIo = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Stage<string> stage = harness.Stage(new StageOptions<string> { Name = "lookup", Shards = 4, KeySelector = s => s }, async (s, ct) => await realIo.Task);
        await stage.WriteAsync("customer-7");
        int shard = stage.ShardOf("customer-7");

        var error = Assert.ThrowsAsync<EngineHarnessTimeoutException>(() => harness.RunUntilIdleAsync());

        Assert.That(error!.Message, Does.Contain("a handler waits for something other than the harness's clock"));
        Assert.That(error.Busy, Has.Some.Contains($"'lookup' shard {shard} key 'customer-7': in the handler since").And.Some.Contains("waiting for something other than the clock"));

        // Advancing cannot help either: the same report.
        Assert.ThrowsAsync<EngineHarnessTimeoutException>(() => harness.AdvanceAsync(TimeSpan.FromSeconds(1)));

        realIo.SetResult();
        await harness.RunUntilIdleAsync();
        Assert.That(stage.GetCounts().Processed, Is.EqualTo(1));
    }

    [Test]
    public async Task A_source_whose_write_fails_makes_the_next_wait_throw_with_the_error()
    {
        await using var harness = new EngineHarness();
        Stage<string> stage = harness.Stage(new StageOptions<string> { Name = "keyed", KeySelector = s => s.Length > 3 ? s : throw new FormatException("short key") }, (s, ct) => default);
        SourceProbe<string> source = harness.Source(stage);

        source.Send("long-enough", "no");

        var error = Assert.ThrowsAsync<EngineHarnessException>(() => harness.RunUntilIdleAsync());
        Assert.That(error!.Message, Does.Contain("The source into stage 'keyed' stopped: a write threw ArgumentException"));
        Assert.That(source.Written, Is.EqualTo(1));
    }

    [Test]
    public void An_unconserved_stage_is_reported_with_its_name_and_counts()
    {
        var counts = new StageCounts { Accepted = 10, Processed = 7, DeadLettered = 1, SupersededPending = 1 };

        string? message = EngineHarness.Unconserved("stage 'enrich' of pipeline 'demo'", counts);

        Assert.That(message, Is.EqualTo("stage 'enrich' of pipeline 'demo': accepted 10 != processed 7 + dead-lettered 1 + dropped 0 + superseded 1 + abandoned 0 + pending 0 (= 9)"));
        Assert.That(EngineHarness.Unconserved("stage 'ok'", counts with { Processed = 8 }), Is.Null);
    }
}
