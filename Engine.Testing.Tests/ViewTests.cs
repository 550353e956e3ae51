using Engine.Dedupe;
using Engine.Pipelines;
using Engine.Retry;
using Engine.Stages;

namespace Engine.Testing.Tests;

/// <summary>Per-stage views: dead letters, drops and superseded items, as the stage's callbacks reported them.</summary>
public class ViewTests
{
    [Test]
    public async Task A_view_lists_the_dead_letters_of_a_pipeline_stage_and_its_own_callback_still_runs()
    {
        await using var harness = new EngineHarness();
        int ownCallback = 0;
        Pipeline<int> pipeline = harness.Pipeline<int>("p")
            .Sink("store", (n, ct) => n % 2 == 0 ? default : ValueTask.FromException(new InvalidDataException($"odd {n}")), o =>
            {
                o.KeySelector = n => n;
                o.Retry = new RetryOptions { MaxAttempts = 2, BaseDelay = TimeSpan.FromSeconds(1), JitterRatio = 0, IsTransient = ex => ex is TimeoutException };
                o.OnDeadLetter = (n, f) => Interlocked.Increment(ref ownCallback);
            })
            .Build();

        for (int i = 0; i < 4; i++)
        {
            await pipeline.WriteAsync(i);
        }

        await harness.CompleteAsync(pipeline);
        StageView<int> store = harness.View<int>("store");

        Assert.That(store.DeadLetters.Select(d => d.Item), Is.EquivalentTo(new[] { 1, 3 }));
        Assert.That(store.DeadLetters.Select(d => d.Reason.Exception), Is.All.InstanceOf<InvalidDataException>());
        Assert.That(store.Pipeline, Is.EqualTo("p"));
        Assert.That(ownCallback, Is.EqualTo(2));
        Assert.That(store.Counts.DeadLettered, Is.EqualTo(2));
    }

    [Test]
    public async Task A_view_lists_drops_by_reason()
    {
        await using var harness = new EngineHarness();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Stage<int> stage = harness.Stage(
            new StageOptions<int> { Name = "lossy", Shards = 1, Capacity = 1, FullMode = StageFullMode.DropWrite, KeySelector = n => 1 },
            async (n, ct) => await Task.Delay(TimeSpan.FromSeconds(1), harness.Clock, ct));

        await stage.WriteAsync(1);
        await harness.RunUntilIdleAsync();   // 1 runs (waiting for the clock)
        await stage.WriteAsync(2);           // fills the channel
        await stage.WriteAsync(3);           // dropped

        StageView<int> view = harness.View<int>("lossy");
        Assert.That(view.Drops, Is.EqualTo(new[] { new StageItem<int, DropReason>(3, DropReason.DropWrite) }));
        await harness.CompleteAsync(stage);
    }

    [Test]
    public async Task A_view_lists_superseded_items_with_the_reason()
    {
        await using var harness = new EngineHarness();
        SinkProbe<(string Key, int Version)> sink = harness.Sink<(string Key, int Version)>(async (u, ctx, ct) => await Task.Delay(TimeSpan.FromSeconds(1), harness.Clock, ct));
        Stage<(string Key, int Version)> stage = harness.Stage(
            new StageOptions<(string Key, int Version)>
            {
                Name = "latest",
                Shards = 1,
                KeySelector = u => u.Key,
                Dedupe = new DedupeOptions<(string Key, int Version)> { Mode = DedupeMode.Replace },
            },
            sink.HandleAsync);

        await stage.WriteAsync(("a", 1));
        await harness.RunUntilIdleAsync();   // version 1 runs
        await stage.WriteAsync(("a", 2));    // held behind it
        await stage.WriteAsync(("a", 3));    // replaces 2 while the key runs
        await harness.CompleteAsync(stage);

        StageView<(string Key, int Version)> view = harness.View<(string Key, int Version)>("latest");
        Assert.That(view.Superseded, Is.EqualTo(new[] { new StageItem<(string Key, int Version), SupersedeReason>(("a", 2), SupersedeReason.InFlight) }));
        Assert.That(sink.Items, Is.EqualTo(new[] { ("a", 1), ("a", 3) }));
    }
}
