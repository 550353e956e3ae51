using Engine.Dedupe;
using Engine.Stages;
using Engine.Testing;
using Engine.Tests.Support;
using Engine.Timing;

namespace Engine.Tests.Stages;

/// <summary>Delayed writes (issue 26): due times on the stage's clock, per-key order, replace, backpressure, lifecycle and bad input.</summary>
public class DelayedWriteTests
{
    private static StageOptions<string> Options(DelayOptions? delays = null, int capacity = 16, StageFullMode fullMode = StageFullMode.Wait) => new()
    {
        Name = "delayed",
        KeySelector = s => s.Split(':')[0],
        Shards = 1,
        Capacity = capacity,
        FullMode = fullMode,
        Delays = delays ?? new DelayOptions(),
    };

    [Test]
    public async Task A_delayed_item_runs_exactly_at_its_due_time_and_counts_as_delayed_until_then()
    {
        await using var harness = new EngineHarness();
        SinkProbe<string> sink = harness.Sink<string>();
        Stage<string> stage = harness.Stage(Options(), sink.HandleAsync);
        DateTimeOffset start = harness.Now;

        await stage.WriteAsync("a:1", TimeSpan.FromSeconds(5));
        await stage.WriteAsync("b:1", start + TimeSpan.FromSeconds(2));
        await harness.RunUntilIdleAsync();
        StageCounts waiting = stage.GetCounts();
        Assert.Multiple(() =>
        {
            Assert.That(sink.Count, Is.Zero);
            Assert.That(waiting.Accepted, Is.EqualTo(2));
            Assert.That(waiting.Delayed, Is.EqualTo(2));
            Assert.That(waiting.WaitingDelayed, Is.EqualTo(2));
            Assert.That(waiting.WaitingRetry, Is.Zero);
            Assert.That(waiting.WaitingRunnable, Is.Zero);
            Assert.That(waiting.Waiting, Is.EqualTo(2));
        });

        await harness.AdvanceAsync(TimeSpan.FromMilliseconds(1999));
        Assert.That(sink.Count, Is.Zero);
        await harness.AdvanceAsync(TimeSpan.FromMilliseconds(1));
        Assert.That(sink.Items, Is.EqualTo(new[] { "b:1" }));
        await harness.AdvanceAsync(TimeSpan.FromMilliseconds(2999));
        Assert.That(sink.Count, Is.EqualTo(1));
        await harness.AdvanceAsync(TimeSpan.FromMilliseconds(1));

        Assert.That(sink.Received.Select(r => (r.Item, r.At - start)), Is.EqualTo(new[] { ("b:1", TimeSpan.FromSeconds(2)), ("a:1", TimeSpan.FromSeconds(5)) }));
        StageCounts counts = await harness.CompleteAsync(stage);
        Assert.That(counts.Processed, Is.EqualTo(2));
        Assert.That(counts.IsConserved, Is.True);
    }

    [Test]
    public async Task By_default_a_key_s_later_items_wait_behind_its_delayed_item_while_other_keys_run()
    {
        await using var harness = new EngineHarness();
        SinkProbe<string> sink = harness.Sink<string>();
        Stage<string> stage = harness.Stage(Options(), sink.HandleAsync);
        DateTimeOffset start = harness.Now;

        await stage.WriteAsync("k:1", TimeSpan.FromSeconds(10));
        await stage.WriteAsync("k:2");
        await stage.WriteAsync("j:1");
        await harness.RunUntilIdleAsync();
        Assert.That(sink.Items, Is.EqualTo(new[] { "j:1" }));
        Assert.That(stage.GetCounts().WaitingRunnable, Is.EqualTo(1), "k:2 is runnable once its key frees");

        await harness.AdvanceAsync(TimeSpan.FromSeconds(10));
        Assert.That(sink.Received.Select(r => (r.Item, r.At - start)), Is.EqualTo(new[] { ("j:1", TimeSpan.Zero), ("k:1", TimeSpan.FromSeconds(10)), ("k:2", TimeSpan.FromSeconds(10)) }));
    }

    [Test]
    public async Task With_LaterItemsOvertake_a_key_s_later_items_run_at_once_and_the_delayed_one_joins_when_due()
    {
        await using var harness = new EngineHarness();
        SinkProbe<string> sink = harness.Sink<string>();
        Stage<string> stage = harness.Stage(Options(new DelayOptions { LaterItemsOvertake = true }), sink.HandleAsync);

        await stage.WriteAsync("k:1", TimeSpan.FromSeconds(10));
        await stage.WriteAsync("k:2");
        await harness.RunUntilIdleAsync();
        Assert.That(sink.Items, Is.EqualTo(new[] { "k:2" }));

        await harness.AdvanceAsync(TimeSpan.FromSeconds(10));
        Assert.That(sink.Items, Is.EqualTo(new[] { "k:2", "k:1" }));
    }

    [Test]
    public async Task A_delayed_item_written_behind_a_running_key_keeps_its_place_and_its_time()
    {
        await using var harness = new EngineHarness();
        SinkProbe<string> sink = harness.Sink<string>((s, ctx, ct) => s == "k:0" ? new ValueTask(Task.Delay(TimeSpan.FromSeconds(2), harness.Clock, ct)) : default);
        Stage<string> stage = harness.Stage(Options(), sink.HandleAsync);
        DateTimeOffset start = harness.Now;

        await stage.WriteAsync("k:0");
        await stage.WriteAsync("k:1", TimeSpan.FromSeconds(5));
        await stage.WriteAsync("k:2");
        await stage.WriteAsync("k:3", TimeSpan.FromSeconds(1));
        await harness.RunUntilIdleAsync();
        Assert.That(stage.GetCounts().WaitingDelayed, Is.EqualTo(2), "k:1 and k:3 parked behind k:0 with their due times");

        // k:0 runs for 2 s: k:1 is not due then, so it waits on a timer with the key busy.
        await harness.AdvanceAsync(TimeSpan.FromSeconds(2));
        Assert.That(sink.Items, Is.EqualTo(new[] { "k:0" }));
        Assert.That(stage.GetCounts().WaitingDelayed, Is.EqualTo(2), "k:1 on its timer and k:3 parked with its due time");

        // At 5 s k:1 runs, then k:2, then k:3 (due at 1 s, long past).
        await harness.AdvanceAsync(TimeSpan.FromSeconds(3));
        Assert.That(sink.Received.Select(r => (r.Item, r.At - start)), Is.EqualTo(new[]
        {
            ("k:0", TimeSpan.FromSeconds(2)), ("k:1", TimeSpan.FromSeconds(5)), ("k:2", TimeSpan.FromSeconds(5)), ("k:3", TimeSpan.FromSeconds(5)),
        }));
        StageCounts counts = await harness.CompleteAsync(stage);
        Assert.That((counts.Processed, counts.Delayed, counts.WaitingDelayed), Is.EqualTo((4L, 2L, 0L)));
    }

    [Test]
    public async Task A_newer_write_of_the_dedupe_key_replaces_a_delayed_item_which_keeps_its_time()
    {
        await using var harness = new EngineHarness();
        var superseded = new List<(string, SupersedeReason)>();
        SinkProbe<string> sink = harness.Sink<string>();
        StageOptions<string> options = Options();
        options.Dedupe = new DedupeOptions<string> { Mode = DedupeMode.Replace, OnSuperseded = (s, reason) => superseded.Add((s, reason)) };
        Stage<string> stage = harness.Stage(options, sink.HandleAsync);
        DateTimeOffset start = harness.Now;

        await stage.WriteAsync("k:v1", TimeSpan.FromSeconds(5));
        await stage.WriteAsync("k:v2");
        await stage.WriteAsync("k:v3", TimeSpan.FromSeconds(1));
        await harness.AdvanceAsync(TimeSpan.FromSeconds(5));

        Assert.That(sink.Received.Select(r => (r.Item, r.At - start)), Is.EqualTo(new[] { ("k:v3", TimeSpan.FromSeconds(5)) }));
        Assert.That(superseded, Is.EqualTo(new[] { ("k:v1", SupersedeReason.Delayed), ("k:v2", SupersedeReason.Delayed) }));
        StageCounts counts = await harness.CompleteAsync(stage);
        Assert.Multiple(() =>
        {
            Assert.That(counts.SupersededDelayed, Is.EqualTo(2));
            Assert.That(counts.Accepted, Is.EqualTo(3));
            Assert.That(counts.Delayed, Is.EqualTo(1), "only the write that entered counts as delayed");
            Assert.That(counts.IsConserved, Is.True);
        });
    }

    [Test]
    public async Task Completion_waits_for_delayed_items_and_a_stop_abandons_them_after_its_drain_timeout()
    {
        await using var harness = new EngineHarness();
        SinkProbe<string> sink = harness.Sink<string>();
        Stage<string> stage = harness.Stage(Options(), sink.HandleAsync);

        await stage.WriteAsync("k:1", TimeSpan.FromSeconds(10));
        await stage.WriteAsync("k:2");
        await stage.WriteAsync("j:1", TimeSpan.FromSeconds(1));
        stage.Complete();
        await harness.AdvanceAsync(TimeSpan.FromSeconds(1));
        Assert.That(stage.Completion.IsCompleted, Is.False, "k:1 and k:2 are outstanding");

        Task<StageCounts> stop = stage.StopAsync(TimeSpan.FromSeconds(2)).AsTask();
        await harness.AdvanceAsync(TimeSpan.FromSeconds(2));
        StageCounts counts = await stop.Within();
        Assert.Multiple(() =>
        {
            Assert.That(sink.Items, Is.EqualTo(new[] { "j:1" }));
            Assert.That(counts.Abandoned, Is.EqualTo(2), "the delayed item and the one behind it");
            Assert.That(counts.Accepted, Is.EqualTo(counts.Processed + counts.DeadLettered + counts.Dropped + counts.Superseded + counts.Abandoned));
            Assert.That((counts.Pending, counts.Waiting, counts.WaitingDelayed), Is.EqualTo((0L, 0L, 0L)));
        });
    }

    [Test]
    public async Task Delayed_items_are_bounded_per_shard_and_a_delayed_write_waits_for_one_to_come_due()
    {
        await using var harness = new EngineHarness();
        SinkProbe<string> sink = harness.Sink<string>();
        Stage<string> stage = harness.Stage(Options(capacity: 1), sink.HandleAsync);

        // a:1 is held on its timer (the shard's hold limit, 1, is reached), b:1 fills the channel, c:1 waits for room.
        await stage.WriteAsync("a:1", TimeSpan.FromSeconds(1));
        await harness.RunUntilIdleAsync();
        await stage.WriteAsync("b:1", TimeSpan.FromSeconds(5));
        Task third = stage.WriteAsync("c:1", TimeSpan.FromSeconds(1)).AsTask();
        await harness.RunUntilIdleAsync();
        Assert.That(third.IsCompleted, Is.False, "one delayed item is held and one fills the channel");
        Assert.That(stage.GetCounts().Accepted, Is.EqualTo(2));

        await harness.AdvanceAsync(TimeSpan.FromSeconds(1));
        await third.Within();
        Assert.That((stage.GetCounts().Accepted, stage.GetCounts().Delayed), Is.EqualTo((3L, 3L)));
        await harness.AdvanceAsync(TimeSpan.FromSeconds(5));
        Assert.That(sink.Items, Is.EqualTo(new[] { "a:1", "b:1", "c:1" }));
    }

    [Test]
    public async Task Overtaking_delayed_items_are_bounded_by_the_capacity_held_off_the_channel()
    {
        await using var harness = new EngineHarness();
        SinkProbe<string> sink = harness.Sink<string>();
        Stage<string> stage = harness.Stage(Options(new DelayOptions { LaterItemsOvertake = true }, capacity: 2), sink.HandleAsync);

        await stage.WriteAsync("a:1", TimeSpan.FromSeconds(1));
        await stage.WriteAsync("b:1", TimeSpan.FromSeconds(5));
        Task third = stage.WriteAsync("c:1", TimeSpan.FromSeconds(1)).AsTask();
        await harness.RunUntilIdleAsync();
        Assert.That(third.IsCompleted, Is.False, "two delayed items are held already");

        await harness.AdvanceAsync(TimeSpan.FromSeconds(1));
        await third.Within();
        await harness.AdvanceAsync(TimeSpan.FromSeconds(4));
        Assert.That(sink.Items, Is.EqualTo(new[] { "a:1", "c:1", "b:1" }));
    }

    [Test]
    public async Task In_Reject_mode_a_delayed_write_past_the_bound_is_refused_and_counted()
    {
        await using var harness = new EngineHarness();
        Stage<string> stage = harness.Stage(Options(capacity: 1, fullMode: StageFullMode.Reject), harness.Sink<string>().HandleAsync);

        await stage.WriteAsync("a:1", TimeSpan.FromSeconds(1));
        await harness.RunUntilIdleAsync();
        await stage.WriteAsync("b:1", TimeSpan.FromSeconds(1));
        Assert.ThrowsAsync<StageFullException>(async () => await stage.WriteAsync("c:1", TimeSpan.FromSeconds(1)));
        Assert.That((stage.GetCounts().Accepted, stage.GetCounts().Refused), Is.EqualTo((2L, 1L)));
    }

    [Test]
    public async Task A_delayed_write_waiting_for_room_fails_when_the_stage_completes()
    {
        await using var harness = new EngineHarness();
        Stage<string> stage = harness.Stage(Options(capacity: 1), harness.Sink<string>().HandleAsync);
        await stage.WriteAsync("a:1", TimeSpan.FromSeconds(1));
        await harness.RunUntilIdleAsync();
        await stage.WriteAsync("b:1", TimeSpan.FromSeconds(1));
        Task waiting = stage.WriteAsync("c:1", TimeSpan.FromSeconds(1)).AsTask();
        await harness.RunUntilIdleAsync();

        stage.Complete();
        Assert.ThrowsAsync<StageCompletedException>(async () => await waiting.Within());
        StageCounts counts = await harness.CompleteAsync(stage);
        Assert.That((counts.Accepted, counts.Processed, counts.Refused), Is.EqualTo((2L, 2L, 1L)));
    }

    [Test]
    public async Task Bad_delays_are_refused_with_an_exception_naming_the_argument()
    {
        await using var harness = new EngineHarness();
        Stage<string> stage = harness.Stage(Options(new DelayOptions { MaxDelay = TimeSpan.FromMinutes(1) }), harness.Sink<string>().HandleAsync);
        Stage<string> plain = harness.Stage(new StageOptions<string> { Name = "plain", KeySelector = s => s }, harness.Sink<string>().HandleAsync);

        var negative = Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await stage.WriteAsync("a", TimeSpan.FromTicks(-1)));
        var tooLong = Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await stage.WriteAsync("a", TimeSpan.FromMinutes(2)));
        var tooLate = Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await stage.WriteAsync("a", harness.Now + TimeSpan.FromMinutes(2)));
        var off = Assert.ThrowsAsync<InvalidOperationException>(async () => await plain.WriteAsync("a", TimeSpan.FromSeconds(1)));
        Assert.Multiple(() =>
        {
            Assert.That(negative!.ParamName, Is.EqualTo("delay"));
            Assert.That(tooLong!.ParamName, Is.EqualTo("delay"));
            Assert.That(tooLong.Message, Does.Contain("options.Delays.MaxDelay"));
            Assert.That(tooLate!.ParamName, Is.EqualTo("dueTime"));
            Assert.That(off!.Message, Does.Contain("options.Delays"));
            Assert.That(stage.GetCounts().Refused, Is.EqualTo(3));
            Assert.That(stage.GetCounts().Accepted, Is.Zero);
        });
    }

    [TestCase("MaxDelay", 0)]
    [TestCase("MaxDelay", 400)]
    public void Out_of_range_delay_options_fail_creation_naming_the_option(string option, int days)
    {
        StageOptions<string> options = Options(new DelayOptions { MaxDelay = TimeSpan.FromDays(days) });
        var error = Assert.Throws<ArgumentException>(() => Stage.Create(options, (string _, CancellationToken _) => default));
        Assert.That(error!.ParamName, Is.EqualTo("options.Delays." + option));
    }
}
