using System.Threading.Channels;
using Engine.Pipelines;
using Engine.Retry;
using Engine.Tests.Support;
using Engine.Windows;
using Microsoft.Extensions.Time.Testing;

namespace Engine.Tests.Windows;

/// <summary>Keyed windows on a fake clock: boundaries, sessions, per-key batches, the bound on open windows, completion and abort.</summary>
public class KeyedWindowTests
{
    /// <summary>A start aligned to every window length used here.</summary>
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private readonly record struct Reading(string Sensor, int Value);

    [Test]
    public async Task Tumbling_windows_close_exactly_at_their_boundaries()
    {
        var time = new FakeTimeProvider(T0.AddSeconds(2));
        var output = Channel.CreateUnbounded<KeyedWindow<int>>();
        await using Pipeline<Reading> pipeline = Pipeline.Create<Reading>("tumbling", time)
            .TumblingWindow<int>("sum", TimeSpan.FromSeconds(10), () => 0, (sum, r) => sum + r.Value, o => o.Stage.KeySelector = r => r.Sensor)
            .SinkTo("out", output.Writer)
            .Build();

        await pipeline.WriteAsync(new Reading("a", 1));
        await pipeline.WriteAsync(new Reading("a", 2));
        await pipeline.WriteAsync(new Reading("b", 5));
        await FoldedAsync(pipeline, "sum", 3);

        time.Advance(TimeSpan.FromSeconds(8) - TimeSpan.FromTicks(1));
        Assert.Multiple(() =>
        {
            Assert.That(output.Reader.TryRead(out _), Is.False, "a tick before the boundary nothing is emitted");
            Assert.That(pipeline.GetCounts().WindowsOf("sum").Open, Is.EqualTo(2));
        });

        time.Advance(TimeSpan.FromTicks(1));
        KeyedWindow<int>[] windows = [await output.Reader.ReadAsync().AsTask().Within(), await output.Reader.ReadAsync().AsTask().Within()];
        Assert.Multiple(() =>
        {
            Assert.That(windows.Select(w => (w.Key.ToString(), w.Value, w.Count)), Is.EquivalentTo(new[] { ("a", 3, 2), ("b", 5, 1) }));
            Assert.That(windows.Select(w => w.Start), Is.All.EqualTo(T0));
            Assert.That(windows.Select(w => w.End), Is.All.EqualTo(T0.AddSeconds(10)));
            Assert.That(windows.Select(w => w.Reason), Is.All.EqualTo(WindowCloseReason.Elapsed));
        });

        // The next item of "a" opens the next window, aligned to the next boundary.
        await pipeline.WriteAsync(new Reading("a", 7));
        await FoldedAsync(pipeline, "sum", 4);
        time.Advance(TimeSpan.FromSeconds(10));
        KeyedWindow<int> next = await output.Reader.ReadAsync().AsTask().Within();
        Assert.That((next.Value, next.Start, next.End), Is.EqualTo((7, T0.AddSeconds(10), T0.AddSeconds(20))));

        await pipeline.CompleteAsync().Within();
        WindowCounts counts = pipeline.GetCounts().WindowsOf("sum");
        Assert.Multiple(() =>
        {
            Assert.That(counts.Emitted, Is.EqualTo(3));
            Assert.That(counts.CompletionFlushes, Is.Zero);
            Assert.That(pipeline.GetCounts().IsConserved, Is.True);
        });
    }

    [Test]
    public async Task A_window_carries_its_oldest_item_s_entry_so_end_to_end_latency_is_that_item_s()
    {
        var time = new FakeTimeProvider(T0);
        var age = new TaskCompletionSource<TimeSpan>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using Pipeline<Reading> pipeline = Pipeline.Create<Reading>("latency", time)
            .TumblingWindow<int>("sum", TimeSpan.FromSeconds(10), () => 0, (s, r) => s + r.Value, o => o.Stage.KeySelector = r => r.Sensor)
            .Sink("out", (_, context, _) =>
            {
                age.TrySetResult(context.Age);
                return default;
            })
            .Build();

        await pipeline.WriteAsync(new Reading("a", 1));
        await FoldedAsync(pipeline, "sum", 1);
        time.Advance(TimeSpan.FromSeconds(4));
        await pipeline.WriteAsync(new Reading("a", 2));
        await FoldedAsync(pipeline, "sum", 2);
        time.Advance(TimeSpan.FromSeconds(6));
        Assert.That(await age.Task.Within(), Is.EqualTo(TimeSpan.FromSeconds(10)), "the first item entered 10 s before its window reached the sink");
        await pipeline.CompleteAsync().Within();
    }

    [Test]
    public async Task A_session_closes_after_its_gap_and_at_its_maximum_length()
    {
        var time = new FakeTimeProvider(T0);
        var output = Channel.CreateUnbounded<KeyedWindow<int>>();
        await using Pipeline<Reading> pipeline = Pipeline.Create<Reading>("session", time)
            .SessionWindow<int>("visits", gap: TimeSpan.FromSeconds(5), maxLength: TimeSpan.FromSeconds(30), () => 0, (n, _) => n + 1, o => o.Stage.KeySelector = r => r.Sensor)
            .SinkTo("out", output.Writer)
            .Build();

        // Gap: two items 3 s apart, then the session ends 5 s after the second.
        await pipeline.WriteAsync(new Reading("a", 0));
        await FoldedAsync(pipeline, "visits", 1);
        time.Advance(TimeSpan.FromSeconds(3));
        await pipeline.WriteAsync(new Reading("a", 0));
        await FoldedAsync(pipeline, "visits", 2);
        time.Advance(TimeSpan.FromSeconds(5) - TimeSpan.FromTicks(1));
        Assert.That(output.Reader.TryRead(out _), Is.False, "the gap runs from the last item");
        time.Advance(TimeSpan.FromTicks(1));
        KeyedWindow<int> session = await output.Reader.ReadAsync().AsTask().Within();
        Assert.That((session.Count, session.Start, session.End), Is.EqualTo((2, T0, T0.AddSeconds(8))));

        // Maximum length: an item every 4 s keeps the session alive until 30 s after it opened.
        DateTimeOffset opened = time.GetUtcNow();
        int folded = 2;
        for (int i = 0; i < 8; i++)
        {
            await pipeline.WriteAsync(new Reading("b", 0));
            await FoldedAsync(pipeline, "visits", ++folded);
            time.Advance(TimeSpan.FromSeconds(i < 7 ? 4 : 2));
        }

        KeyedWindow<int> capped = await output.Reader.ReadAsync().AsTask().Within();
        Assert.That((capped.Count, capped.Start, capped.End, capped.Reason), Is.EqualTo((8, opened, opened.AddSeconds(30), WindowCloseReason.Elapsed)));
        await pipeline.CompleteAsync().Within();
    }

    [Test]
    public async Task A_hot_key_fills_its_batches_without_delaying_another_key_s_window()
    {
        var time = new FakeTimeProvider(T0);
        var output = Channel.CreateUnbounded<KeyedWindow<IReadOnlyList<Reading>>>();
        await using Pipeline<Reading> pipeline = Pipeline.Create<Reading>("isolation", time)
            .BatchByKey("batch", size: 3, maxWait: TimeSpan.FromSeconds(10), o => { o.Stage.KeySelector = r => r.Sensor; o.Stage.Shards = 1; })
            .SinkTo("out", output.Writer)
            .Build();

        await pipeline.WriteAsync(new Reading("cold", -1));
        for (int i = 0; i < 99; i++)
        {
            await pipeline.WriteAsync(new Reading("hot", i));
        }

        // Full batches of the hot key go out with no time passing; the cold key's stays open.
        for (int i = 0; i < 33; i++)
        {
            KeyedWindow<IReadOnlyList<Reading>> batch = await output.Reader.ReadAsync().AsTask().Within();
            Assert.That((batch.Key.ToString(), batch.Count, batch.Reason), Is.EqualTo(("hot", 3, WindowCloseReason.Full)));
            Assert.That(batch.Value.Select(r => r.Value), Is.EqualTo(new[] { 3 * i, (3 * i) + 1, (3 * i) + 2 }), "a batch holds its items in order");
        }

        Assert.That(output.Reader.TryRead(out _), Is.False);
        time.Advance(TimeSpan.FromSeconds(10));
        KeyedWindow<IReadOnlyList<Reading>> cold = await output.Reader.ReadAsync().AsTask().Within();
        Assert.That((cold.Key.ToString(), cold.Count, cold.Reason, cold.End), Is.EqualTo(("cold", 1, WindowCloseReason.Elapsed, T0.AddSeconds(10))));
        await pipeline.CompleteAsync().Within();
    }

    [Test]
    public async Task At_the_bound_a_new_key_waits_for_a_window_to_close_by_default()
    {
        var time = new FakeTimeProvider(T0);
        var output = Channel.CreateUnbounded<KeyedWindow<int>>();
        await using Pipeline<Reading> pipeline = Pipeline.Create<Reading>("bound", time)
            .TumblingWindow<int>("sum", TimeSpan.FromSeconds(10), () => 0, (s, r) => s + r.Value, o => { o.Stage.KeySelector = r => r.Sensor; o.Stage.Shards = 1; o.MaxOpenWindows = 2; })
            .SinkTo("out", output.Writer)
            .Build();

        await pipeline.WriteAsync(new Reading("a", 1));
        await pipeline.WriteAsync(new Reading("b", 2));
        await pipeline.WriteAsync(new Reading("c", 3));
        await FoldedAsync(pipeline, "sum", 2);
        await TestWait.UntilAsync(() => pipeline.GetCounts()["sum"].InFlight == 1, "c's handler waits for room");
        Assert.That(pipeline.GetCounts().WindowsOf("sum").Folded, Is.EqualTo(2));

        time.Advance(TimeSpan.FromSeconds(10));
        await FoldedAsync(pipeline, "sum", 3);
        await pipeline.CompleteAsync().Within();
        WindowCounts counts = pipeline.GetCounts().WindowsOf("sum");
        Assert.Multiple(() =>
        {
            Assert.That(counts.PeakOpen, Is.EqualTo(2));
            Assert.That(counts.EarlyFlushes, Is.Zero);
            Assert.That(counts.Emitted, Is.EqualTo(3));
            Assert.That(counts.CompletionFlushes, Is.EqualTo(1), "c's window, opened after the boundary, is flushed at completion");
        });
    }

    [Test]
    public async Task With_FlushOldest_the_oldest_window_is_flushed_early_and_counted()
    {
        var time = new FakeTimeProvider(T0);
        var output = Channel.CreateUnbounded<KeyedWindow<int>>();
        await using Pipeline<Reading> pipeline = Pipeline.Create<Reading>("flush-oldest", time)
            .TumblingWindow<int>("sum", TimeSpan.FromSeconds(10), () => 0, (s, r) => s + r.Value, o => { o.Stage.KeySelector = r => r.Sensor; o.Stage.Shards = 1; o.MaxOpenWindows = 2; o.FullMode = WindowFullMode.FlushOldest; })
            .SinkTo("out", output.Writer)
            .Build();

        await pipeline.WriteAsync(new Reading("a", 1));
        await pipeline.WriteAsync(new Reading("b", 2));
        await pipeline.WriteAsync(new Reading("c", 3));
        KeyedWindow<int> early = await output.Reader.ReadAsync().AsTask().Within();
        Assert.That((early.Key.ToString(), early.Value, early.Reason), Is.EqualTo(("a", 1, WindowCloseReason.FlushedEarly)));
        await pipeline.CompleteAsync().Within();
        WindowCounts counts = pipeline.GetCounts().WindowsOf("sum");
        Assert.Multiple(() =>
        {
            Assert.That(counts.EarlyFlushes, Is.EqualTo(1));
            Assert.That(counts.CompletionFlushes, Is.EqualTo(2));
            Assert.That(counts.PeakOpen, Is.EqualTo(2));
        });
    }

    [Test]
    public async Task Completion_flushes_every_open_window()
    {
        var time = new FakeTimeProvider(T0);
        var output = Channel.CreateUnbounded<KeyedWindow<int>>();
        await using Pipeline<Reading> pipeline = Pipeline.Create<Reading>("complete", time)
            .TumblingWindow<int>("sum", TimeSpan.FromMinutes(1), () => 0, (s, r) => s + r.Value, o => o.Stage.KeySelector = r => r.Sensor)
            .SinkTo("out", output.Writer)
            .Build();

        for (int i = 0; i < 50; i++)
        {
            await pipeline.WriteAsync(new Reading("k" + (i % 10), i));
        }

        await pipeline.CompleteAsync().Within();
        List<KeyedWindow<int>> windows = [];
        await foreach (KeyedWindow<int> window in output.Reader.ReadAllAsync())
        {
            windows.Add(window);
        }

        PipelineCounts counts = pipeline.GetCounts();
        Assert.Multiple(() =>
        {
            Assert.That(windows, Has.Count.EqualTo(10));
            Assert.That(windows.Select(w => w.Reason), Is.All.EqualTo(WindowCloseReason.Completion));
            Assert.That(windows.Sum(w => w.Value), Is.EqualTo(Enumerable.Range(0, 50).Sum()));
            Assert.That(counts.WindowsOf("sum").CompletionFlushes, Is.EqualTo(10));
            Assert.That(counts.EmittedBy("sum"), Is.EqualTo(10));
            Assert.That(counts["out"].Accepted, Is.EqualTo(10));
            Assert.That(counts.IsConserved, Is.True);
        });
    }

    [Test]
    public async Task An_abort_abandons_open_windows_and_counts_what_they_held()
    {
        var time = new FakeTimeProvider(T0);
        await using Pipeline<Reading> pipeline = Pipeline.Create<Reading>("abort", time)
            .TumblingWindow<int>("sum", TimeSpan.FromMinutes(1), () => 0, (s, r) => s + r.Value, o => o.Stage.KeySelector = r => r.Sensor)
            .Sink("out", (_, _) => default)
            .Build();

        for (int i = 0; i < 30; i++)
        {
            await pipeline.WriteAsync(new Reading("k" + (i % 3), i));
        }

        await FoldedAsync(pipeline, "sum", 30);
        PipelineCounts counts = await pipeline.AbortAsync().Within();
        WindowCounts windows = counts.WindowsOf("sum");
        Assert.Multiple(() =>
        {
            Assert.That(windows.AbandonedWindows, Is.EqualTo(3));
            Assert.That(windows.AbandonedItems, Is.EqualTo(30));
            Assert.That(windows.Emitted, Is.Zero);
            Assert.That(windows.Open, Is.Zero);
            Assert.That(counts["sum"].Processed, Is.EqualTo(30), "folded items were processed");
            Assert.That(counts.IsConserved, Is.True);
        });
    }

    [Test]
    public async Task A_fold_that_throws_is_retried_then_dead_lettered_and_the_window_keeps_what_it_had()
    {
        var time = new FakeTimeProvider(T0);
        var output = Channel.CreateUnbounded<KeyedWindow<int>>();
        var deadLettered = new List<Reading>();
        await using Pipeline<Reading> pipeline = Pipeline.Create<Reading>("failing-fold", time)
            .TumblingWindow<int>(
                "sum",
                TimeSpan.FromSeconds(10),
                () => 0,
                (s, r) => r.Value < 0 ? throw new TimeoutException("bad reading") : s + r.Value,
                o =>
                {
                    o.Stage.KeySelector = r => r.Sensor;
                    o.Stage.Retry = new RetryOptions { MaxAttempts = 3, BaseDelay = TimeSpan.Zero, MaxDelay = TimeSpan.Zero };
                    o.Stage.OnDeadLetter = (r, _) => { lock (deadLettered) { deadLettered.Add(r); } };
                })
            .SinkTo("out", output.Writer)
            .Build();

        await pipeline.WriteAsync(new Reading("a", 4));
        await pipeline.WriteAsync(new Reading("a", -1));
        await pipeline.WriteAsync(new Reading("a", 5));
        await TestWait.UntilAsync(() => pipeline.GetCounts()["sum"].Pending == 0, "every item settled");
        time.Advance(TimeSpan.FromSeconds(10));
        KeyedWindow<int> window = await output.Reader.ReadAsync().AsTask().Within();
        await pipeline.CompleteAsync().Within();
        Engine.StageCounts stage = pipeline.GetCounts()["sum"];
        Assert.Multiple(() =>
        {
            Assert.That((window.Value, window.Count), Is.EqualTo((9, 2)));
            Assert.That(deadLettered, Is.EqualTo(new[] { new Reading("a", -1) }));
            Assert.That(stage.HandlerErrors, Is.EqualTo(3));
            Assert.That(stage.Processed, Is.EqualTo(2));
            Assert.That(pipeline.GetCounts().IsConserved, Is.True);
        });
    }

    [Test]
    public async Task Items_without_a_key_share_one_window()
    {
        var time = new FakeTimeProvider(T0);
        var output = Channel.CreateUnbounded<KeyedWindow<int>>();
        await using Pipeline<int> pipeline = Pipeline.Create<int>("unkeyed", time)
            .TumblingWindow<int>("count", TimeSpan.FromSeconds(10), () => 0, (n, _) => n + 1)
            .SinkTo("out", output.Writer)
            .Build();

        for (int i = 0; i < 20; i++)
        {
            await pipeline.WriteAsync(i);
        }

        await pipeline.CompleteAsync().Within();
        KeyedWindow<int> window = await output.Reader.ReadAsync().AsTask().Within();
        Assert.That((window.Key.IsNone, window.Value), Is.EqualTo((true, 20)));
    }

    /// <summary>Waits until the step has folded <paramref name="count"/> items (the fold is the handler, so there is no event of its own to await).</summary>
    private static Task FoldedAsync<T>(Pipeline<T> pipeline, string stage, long count) =>
        TestWait.UntilAsync(() => pipeline.GetCounts().WindowsOf(stage).Folded >= count, $"{count} items folded in '{stage}'");
}
