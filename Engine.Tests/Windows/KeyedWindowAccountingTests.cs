using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Threading.Channels;
using Engine.Pipelines;
using Engine.Retry;
using Engine.Stages;
using Engine.Tests.Support;
using Engine.Windows;
using Microsoft.Extensions.Time.Testing;

namespace Engine.Tests.Windows;

/// <summary>
/// Randomized keyed windows (seeded; the seed is in the test name: the inputs, shapes and failures
/// follow from it) on a fake clock that moves while items are written, with folds that throw, retries,
/// a tight bound on open windows and sometimes an abort: every accepted item is in exactly one emitted
/// window, or dead-lettered, or abandoned (by the stage, or in a window), and both identities hold.
/// </summary>
public class KeyedWindowAccountingTests
{
    private readonly record struct Event(int Id, int Key);

    private static IEnumerable<TestCaseData> Seeds() =>
        Enumerable.Range(1, 24).Select(seed => new TestCaseData(seed).SetArgDisplayNames("seed " + seed));

    [TestCaseSource(nameof(Seeds))]
    public async Task Every_item_is_in_exactly_one_emitted_window_or_accounted_otherwise(int seed)
    {
        var random = new Random(seed);
        int shape = random.Next(3);
        int shards = random.Next(1, 4);
        int maxOpen = random.Next(shards, shards * 6);
        WindowFullMode fullMode = random.Next(2) == 0 ? WindowFullMode.Backpressure : WindowFullMode.FlushOldest;
        double failureRate = random.NextDouble() * 0.3;
        int items = random.Next(300, 1500);
        int keys = random.Next(1, 60);
        bool abort = random.Next(4) == 0;
        int abortAt = abort ? random.Next(items) : -1;
        TimeSpan length = TimeSpan.FromSeconds(random.Next(1, 10));
        int size = random.Next(1, 8);

        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var attempts = new ConcurrentDictionary<int, int>();
        var deadLettered = new ConcurrentBag<int>();
        var output = Channel.CreateUnbounded<KeyedWindow<ImmutableList<int>>>();
        ImmutableList<int> Fold(ImmutableList<int> ids, Event e)
        {
            int attempt = attempts.AddOrUpdate(e.Id, 1, (_, n) => n + 1);
            return (HashCode.Combine(seed, e.Id, attempt) & 0xFFFF) / 65536.0 < failureRate ? throw new TimeoutException("fold failed") : ids.Add(e.Id);
        }

        void Configure(KeyedWindowOptions<Event> o)
        {
            o.Stage.KeySelector = e => e.Key;
            o.Stage.Shards = shards;
            o.Stage.WorkersPerShard = random.Next(1, 3);
            o.Stage.Capacity = 16;
            o.Stage.Retry = new RetryOptions { MaxAttempts = 2, BaseDelay = TimeSpan.Zero, MaxDelay = TimeSpan.Zero };
            o.Stage.OnDeadLetter = (e, _) => deadLettered.Add(e.Id);
            o.MaxOpenWindows = maxOpen;
            o.FullMode = fullMode;
        }

        PipelineBuilder<Event> builder = Pipeline.Create<Event>("windows-" + seed, time);
        Flow<Event, KeyedWindow<ImmutableList<int>>> windows = shape switch
        {
            0 => builder.TumblingWindow("w", length, () => ImmutableList<int>.Empty, Fold, Configure),
            1 => builder.SessionWindow("w", length / 2, length * 3, () => ImmutableList<int>.Empty, Fold, Configure),
            _ => builder.BatchByKey("w", size, length, Configure).Then("as-ids", (KeyedWindow<IReadOnlyList<Event>> b, CancellationToken _) => ValueTask.FromResult(b), o => o.KeySelector = b => b.Key)
                .TumblingWindow("w2", length, () => ImmutableList<int>.Empty, (ids, b) => ids.AddRange(b.Value.Select(e => e.Id)), o => o.Stage.KeySelector = b => b.Key),
        };
        await using Pipeline<Event> pipeline = windows.SinkTo("out", output.Writer).Build();

        int accepted = 0;
        for (int id = 0; id < items; id++)
        {
            if (id == abortAt)
            {
                await pipeline.AbortAsync().Within();
            }

            ValueTask write = pipeline.WriteAsync(new Event(id, random.Next(keys)));
            try
            {
                // The clock moves while the write waits for room (a full bound waits for windows to close on time).
                while (!write.IsCompleted)
                {
                    time.Advance(TimeSpan.FromMilliseconds(random.Next(1, 500)));
                    await Task.Yield();
                }

                await write;
                accepted++;
            }
            catch (StageCompletedException) when (abort)
            {
            }
            catch (OperationCanceledException) when (abort)
            {
            }

            if (random.Next(20) == 0)
            {
                time.Advance(TimeSpan.FromMilliseconds(random.Next(1, 3000)));
            }
        }

        if (!abort)
        {
            Task completion = pipeline.CompleteAsync();
            while (!completion.IsCompleted)
            {
                time.Advance(TimeSpan.FromMilliseconds(250));
                await Task.Yield();
            }

            await completion.Within();
        }

        var emitted = new List<KeyedWindow<ImmutableList<int>>>();
        while (output.Reader.TryRead(out KeyedWindow<ImmutableList<int>>? window))
        {
            emitted.Add(window);
        }

        PipelineCounts counts = pipeline.GetCounts();
        string last = shape == 2 ? "w2" : "w";
        WindowCounts w = counts.WindowsOf("w");
        List<int> inWindows = [.. emitted.SelectMany(e => e.Value)];
        Assert.Multiple(() =>
        {
            Assert.That(counts.IsConserved, Is.True, counts.ToString());
            Assert.That(w.Folded, Is.EqualTo(counts["w"].Processed), "a fold is a processed item");
            Assert.That(inWindows, Is.Unique, "no item is in two windows");
            Assert.That(shape == 2 || emitted.All(e => e.Value.Count == e.Count), Is.True, "a window's count is its items");
            Assert.That(counts["w"].Accepted, Is.EqualTo(accepted));
            Assert.That(w.PeakOpen, Is.LessThanOrEqualTo(maxOpen), "never more open windows than the bound");
            if (shape == 2)
            {
                Assert.That(emitted.All(e => e.Count <= size * e.Value.Count), Is.True);
            }

            if (!abort)
            {
                Assert.That(inWindows.Concat(deadLettered), Is.EquivalentTo(Enumerable.Range(0, items)), "every item is in one emitted window or dead-lettered");
                Assert.That(w.AbandonedItems + counts[last].Abandoned, Is.Zero);
                Assert.That(counts.WindowsOf(last).Emitted, Is.EqualTo(emitted.Count));
                Assert.That(counts.WindowsOf(last).Open + counts.WindowsOf(last).Closing, Is.Zero);
            }
            else
            {
                long abandoned = counts.Stages.Sum(s => s.Counts.Abandoned + (s.Windows?.AbandonedItems ?? 0));
                Assert.That(inWindows.Count + deadLettered.Count, Is.LessThanOrEqualTo(accepted));
                Assert.That(inWindows.Concat(deadLettered), Is.Unique, "an item is emitted or dead-lettered, never both");
                Assert.That(abandoned, Is.GreaterThanOrEqualTo(accepted - inWindows.Count - deadLettered.Count), "what was neither emitted nor dead-lettered was counted abandoned somewhere");
            }

            foreach (KeyedWindow<ImmutableList<int>> window in emitted.Where(e => e.Reason == WindowCloseReason.Elapsed && shape == 0))
            {
                Assert.That(window.End - window.Start, Is.EqualTo(length), "a tumbling window that ran its time is exactly its length");
            }
        });
    }
}
