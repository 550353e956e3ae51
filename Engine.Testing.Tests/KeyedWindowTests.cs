using Engine.Pipelines;
using Engine.Windows;

namespace Engine.Testing.Tests;

/// <summary>
/// Keyed windows under the harness: run until idle and advance wait for a window's loop to close and
/// forward what is due (a window's end on the clock, a per-key batch that filled), not only for the
/// stage that folds into it.
/// </summary>
public class KeyedWindowTests
{
    /// <summary>Windows by the item's key, on two keyed shards (and the unkeyed one).</summary>
    private static void ByKeyOnTwoShards(KeyedWindowOptions<(string Key, int Value)> o)
    {
        o.Stage.KeySelector = i => i.Key;
        o.Stage.Shards = 2;
    }

    [Test]
    public async Task A_tumbling_window_is_forwarded_within_the_advance_that_reaches_its_end()
    {
        await using var harness = new EngineHarness();
        SinkProbe<KeyedWindow<int>> sink = harness.Sink<KeyedWindow<int>>();
        Pipeline<(string Key, int Value)> pipeline = harness.Pipeline<(string Key, int Value)>("sums")
            .TumblingWindow("sum", TimeSpan.FromSeconds(1), () => 0, (sum, item) => sum + item.Value, ByKeyOnTwoShards)
            .Sink("store", sink.HandleAsync)
            .Build();
        DateTimeOffset start = harness.Now;

        await pipeline.WriteAsync(("a", 1));
        await pipeline.WriteAsync(("b", 10));
        await pipeline.WriteAsync(("a", 2));
        await harness.RunUntilIdleAsync();
        Assert.That(sink.Count, Is.Zero);
        Assert.That(harness.Describe(), Does.Contain("window(s) open"));

        await harness.AdvanceAsync(TimeSpan.FromMilliseconds(999));
        Assert.That(sink.Count, Is.Zero);

        await harness.AdvanceAsync(TimeSpan.FromMilliseconds(1));
        Assert.That(sink.Items.ToDictionary(w => w.Key.ToString(), w => w.Value), Is.EqualTo(new Dictionary<string, int> { ["a"] = 3, ["b"] = 10 }));
        Assert.That(sink.Items.Select(w => w.End), Is.All.EqualTo(start + TimeSpan.FromSeconds(1)));
        Assert.That(sink.Received.Select(r => r.At), Is.All.EqualTo(start + TimeSpan.FromSeconds(1)), "forwarded when the window ended, not later");

        PipelineCounts counts = await harness.CompleteAsync(pipeline);
        Assert.That(counts.Stages.Single(s => s.Stage == "sum").Counts.Processed, Is.EqualTo(3));
    }

    [Test]
    public async Task A_per_key_batch_is_forwarded_when_it_fills_and_a_partial_one_when_the_clock_reaches_its_wait()
    {
        await using var harness = new EngineHarness();
        SinkProbe<KeyedWindow<IReadOnlyList<(string Key, int Value)>>> sink = harness.Sink<KeyedWindow<IReadOnlyList<(string Key, int Value)>>>();
        Pipeline<(string Key, int Value)> pipeline = harness.Pipeline<(string Key, int Value)>("batches")
            .BatchByKey("batch", size: 3, maxWait: TimeSpan.FromMilliseconds(500), ByKeyOnTwoShards)
            .Sink("store", sink.HandleAsync)
            .Build();
        DateTimeOffset start = harness.Now;

        // Key a fills its batch at once; key b's single item waits for its 500 ms.
        await pipeline.WriteAsync(("a", 1));
        await pipeline.WriteAsync(("b", 1));
        await pipeline.WriteAsync(("a", 2));
        await pipeline.WriteAsync(("a", 3));
        await harness.RunUntilIdleAsync();
        Assert.That(sink.Items.Single().Key.ToString(), Is.EqualTo("a"));
        Assert.That(sink.Items.Single().Value.Select(i => i.Value), Is.EqualTo(new[] { 1, 2, 3 }));
        Assert.That(sink.Received[0].At, Is.EqualTo(start), "a full batch goes at once, with no time passing");

        await harness.AdvanceAsync(TimeSpan.FromMilliseconds(499));
        Assert.That(sink.Count, Is.EqualTo(1));

        await harness.AdvanceAsync(TimeSpan.FromMilliseconds(1));
        Assert.That(sink.Count, Is.EqualTo(2));
        Assert.That(sink.Items[1].Key.ToString(), Is.EqualTo("b"));
        Assert.That(sink.Received[1].Age, Is.EqualTo(TimeSpan.FromMilliseconds(500)), "a batch carries its oldest item's entry");

        PipelineCounts counts = await harness.CompleteAsync(pipeline);
        Assert.That(counts.Stages.Single(s => s.Stage == "batch").Counts.Processed, Is.EqualTo(4));
    }
}
