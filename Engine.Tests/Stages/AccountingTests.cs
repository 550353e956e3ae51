using System.Collections.Concurrent;
using Engine.Dedupe;
using Engine.Retry;
using Engine.Stages;
using Engine.Tests.Support;

namespace Engine.Tests.Stages;

/// <summary>
/// Randomized workloads (seeded; the seed is in the test name) with every full mode, several workers,
/// random handler failures, retries, dedupe (replace, content) and sometimes an abort halfway. Afterwards every accepted item must
/// be accounted for exactly once.
/// </summary>
public class AccountingTests
{
    private readonly record struct Work(int Id, int Key);

    private static IEnumerable<int> Seeds() => Enumerable.Range(1, 150);

    [TestCaseSource(nameof(Seeds))]
    public async Task Every_accepted_item_is_processed_dead_lettered_dropped_or_abandoned_exactly_once(int seed)
    {
        var random = new Random(seed);
        var mode = (StageFullMode)random.Next(0, 5);
        bool retries = random.Next(2) == 0;
        double failureRate = random.NextDouble() * 0.3;
        bool abort = random.Next(3) == 0;
        int dedupe = random.Next(3); // 0 none, 1 replace, 2 replace with content dedupe
        int writers = random.Next(1, 4);
        const int perWriter = 400;

        var accepted = new ConcurrentDictionary<int, bool>();
        var outcomes = new ConcurrentDictionary<int, string>();
        int duplicates = 0;
        void Settle(int id, string outcome)
        {
            if (!outcomes.TryAdd(id, outcome))
            {
                Interlocked.Increment(ref duplicates);
            }
        }

        var stage = Stage.Create(
            new StageOptions<Work>
            {
                Name = "random-" + seed,
                Shards = random.Next(1, 5),
                WorkersPerShard = random.Next(1, 5),
                UnkeyedWorkers = random.Next(1, 3),
                Capacity = random.Next(1, 33),
                FullMode = mode,
                KeySelector = w => w.Key < 0 ? default : w.Key,
                Retry = retries ? new RetryOptions { MaxAttempts = random.Next(2, 5), BaseDelay = TimeSpan.Zero, MaxDelay = TimeSpan.FromMilliseconds(1) } : null,
                OnDropped = (w, _) => { accepted.TryAdd(w.Id, true); Settle(w.Id, "dropped"); },
                OnDeadLetter = (w, _) => Settle(w.Id, "dead"),
                Dedupe = dedupe == 0 ? null : new DedupeOptions<Work>
                {
                    Mode = DedupeMode.Replace,
                    ContentHash = dedupe == 2 ? w => (ulong)(w.Id % 3) : null,
                    OnSuperseded = (w, _) => Settle(w.Id, "superseded"),
                },
            },
            async (w, ct) =>
            {
                // Decisions come from the item, not from a shared Random: handlers run concurrently.
                int roll = HashCode.Combine(seed, w.Id, Environment.CurrentManagedThreadId) & 0xFFFF;
                if (roll % 3 == 0)
                {
                    await Task.Yield();
                }

                if (roll / 65536.0 < failureRate)
                {
                    throw new TimeoutException("random failure");
                }

                Settle(w.Id, "processed");
            });

        int abortAfter = abort ? random.Next(perWriter / 4, perWriter) : int.MaxValue;
        var writerSeeds = Enumerable.Range(0, writers).Select(_ => random.Next()).ToArray();
        await Task.WhenAll(Enumerable.Range(0, writers).Select(w => Task.Run(async () =>
        {
            var local = new Random(writerSeeds[w]);
            for (int i = 0; i < perWriter; i++)
            {
                if (w == 0 && i == abortAfter)
                {
                    await stage.AbortAsync();
                }

                var work = new Work((w * perWriter) + i, local.Next(-2, 25));
                try
                {
                    if (local.Next(2) == 0)
                    {
                        if (stage.TryWrite(work))
                        {
                            accepted.TryAdd(work.Id, true);
                        }
                    }
                    else
                    {
                        // Returning normally means accepted (DropWrite may have dropped it at once).
                        await stage.WriteAsync(work);
                        accepted.TryAdd(work.Id, true);
                    }
                }
                catch (StageFullException)
                {
                }
                catch (StageCompletedException)
                {
                }
            }
        }))).WaitAsync(TestWait.Patience).ContinueWith(t => t.IsFaulted ? throw new TimeoutException("writers stuck:\n" + stage.Describe(), t.Exception) : t, TaskScheduler.Default).Unwrap();

        StageCounts counts = await stage.StopAsync(Timeout.InfiniteTimeSpan).AsTask().WaitAsync(TestWait.Patience).ContinueWith(t => t.IsFaulted ? throw new TimeoutException("stop stuck:\n" + stage.Describe(), t.Exception) : t.Result, TaskScheduler.Default);
        await stage.DisposeAsync();

        string context = $"seed {seed}, mode {mode}, retries {retries}, abort {abort}, dedupe {dedupe}: {counts}";
        Assert.Multiple(() =>
        {
            Assert.That(duplicates, Is.Zero, "an item settled twice; " + context);
            Assert.That(counts.Pending, Is.Zero, context);
            Assert.That(counts.InFlight, Is.Zero, context);
            Assert.That(counts.Waiting, Is.Zero, context);
            Assert.That(counts.Accepted, Is.EqualTo(accepted.Count), context);
            Assert.That(counts.Accepted, Is.EqualTo(counts.Processed + counts.DeadLettered + counts.Dropped + counts.Superseded + counts.Abandoned), context);
            Assert.That(outcomes.Keys.Where(id => !accepted.ContainsKey(id)), Is.Empty, "an item settled without being accepted; " + context);
            Assert.That(outcomes.Values.Count(o => o == "processed"), Is.EqualTo(counts.Processed), context);
            Assert.That(outcomes.Values.Count(o => o == "dead"), Is.EqualTo(counts.DeadLettered), context);
            Assert.That(outcomes.Values.Count(o => o == "dropped"), Is.EqualTo(counts.Dropped), context);
            Assert.That(outcomes.Values.Count(o => o == "superseded"), Is.EqualTo(counts.Superseded), context);
            Assert.That(accepted.Count - outcomes.Count, Is.EqualTo(counts.Abandoned), context);
            if (!abort)
            {
                Assert.That(counts.Abandoned, Is.Zero, context);
            }
        });
    }
}
