using System.Collections.Concurrent;
using Engine.Dedupe;
using Engine.Retry;
using Engine.Stages;
using Engine.Tests.Support;

namespace Engine.Tests.Dedupe;

/// <summary>
/// Random interleavings of writes over a few keys (one writer task per key, so each key's accepted
/// order is its version order), random handler delays and failures, 1–4 workers per shard, with and
/// without merge and content dedupe. The seed is in the test name; a failure message repeats it.
/// </summary>
public class DedupePropertyTests
{
    private readonly record struct Update(int Key, int Version, int Content);

    private static IEnumerable<TestCaseData> Seeds() =>
        Enumerable.Range(1, 60).Select(seed => new TestCaseData(seed).SetArgDisplayNames("seed " + seed));

    [TestCaseSource(nameof(Seeds))]
    public async Task No_update_is_lost_order_holds_keys_never_overlap_and_every_item_is_accounted_for(int seed)
    {
        var random = new Random(seed);
        int keys = random.Next(1, 6);
        int versions = random.Next(20, 200);
        int workers = random.Next(1, 5);
        bool merge = random.Next(3) == 0;
        bool content = random.Next(2) == 0;
        bool retries = random.Next(2) == 0;
        double failureRate = random.NextDouble() * 0.25;
        int capacity = random.Next(1, 8);
        string context = $"seed {seed}: keys {keys}, versions {versions}, workers {workers}, merge {merge}, content {content}, retries {retries}, failures {failureRate:F2}, capacity {capacity}";

        var processed = new ConcurrentDictionary<int, ConcurrentQueue<int>>();
        var deadLettered = new ConcurrentDictionary<int, ConcurrentQueue<int>>();
        var running = new ConcurrentDictionary<int, int>();
        int overlaps = 0;

        await using var stage = Stage.Create(
            new StageOptions<Update>
            {
                Name = "property",
                Shards = random.Next(1, 3),
                WorkersPerShard = workers,
                Capacity = capacity,
                KeySelector = u => u.Key,
                Retry = retries ? new RetryOptions { MaxAttempts = 3, BaseDelay = TimeSpan.Zero, MaxDelay = TimeSpan.FromMilliseconds(1) } : null,
                OnDeadLetter = (u, _) => deadLettered.GetOrAdd(u.Key, _ => new()).Enqueue(u.Version),
                Dedupe = new DedupeOptions<Update>
                {
                    Mode = DedupeMode.Replace,
                    Merge = merge ? (waiting, incoming) => incoming with { Content = waiting.Content ^ incoming.Content } : null,
                    ContentHash = content ? u => (ulong)u.Content : null,
                },
            },
            async (u, ct) =>
            {
                if (running.AddOrUpdate(u.Key, 1, (_, n) => n + 1) > 1)
                {
                    Interlocked.Increment(ref overlaps);
                }

                try
                {
                    int roll = HashCode.Combine(seed, u.Key, u.Version, Environment.CurrentManagedThreadId) & 0xFFFF;
                    if (roll % 2 == 0)
                    {
                        await Task.Yield();
                    }

                    if (roll / 65536.0 < failureRate)
                    {
                        throw new TimeoutException("random");
                    }

                    processed.GetOrAdd(u.Key, _ => new()).Enqueue(u.Version);
                }
                finally
                {
                    running.AddOrUpdate(u.Key, 0, (_, n) => n - 1);
                }
            });

        int[] writerSeeds = Enumerable.Range(0, keys).Select(_ => random.Next()).ToArray();
        await Task.WhenAll(Enumerable.Range(0, keys).Select(key => Task.Run(async () =>
        {
            var local = new Random(writerSeeds[key]);
            for (int v = 1; v <= versions; v++)
            {
                // Few distinct contents, so content dedupe has identical updates to skip.
                await stage.WriteAsync(new Update(key, v, local.Next(3)));
                if (local.Next(4) == 0)
                {
                    await Task.Yield();
                }
            }
        }))).Within();

        StageCounts counts = await stage.StopAsync(Timeout.InfiniteTimeSpan).Within();
        Assert.Multiple(() =>
        {
            Assert.That(overlaps, Is.Zero, "two handlers of one key overlapped; " + context);
            Assert.That(counts.Pending, Is.Zero, context);
            Assert.That(counts.Accepted, Is.EqualTo((long)keys * versions), context);
            Assert.That(counts.Accepted, Is.EqualTo(counts.Processed + counts.DeadLettered + counts.Dropped + counts.Superseded + counts.Abandoned), context);
            Assert.That(counts.Processed, Is.EqualTo(processed.Values.Sum(q => q.Count)), context);
            for (int key = 0; key < keys; key++)
            {
                int[] done = processed.TryGetValue(key, out var p) ? [.. p] : [];
                int[] dead = deadLettered.TryGetValue(key, out var d) ? [.. d] : [];
                Assert.That(done, Is.Ordered.Ascending.And.Unique, $"key {key} ran out of order or twice; {context}");

                // The newest version is either run (processed or dead-lettered) or, with content dedupe,
                // skipped because it equals what was last processed — never silently lost.
                bool newestSettled = done.Contains(versions) || dead.Contains(versions);
                if (!content)
                {
                    Assert.That(newestSettled, Is.True, $"key {key} lost its newest update; {context}");
                }
                else if (!newestSettled)
                {
                    Assert.That(counts.SupersededContent, Is.GreaterThan(0), $"key {key}: newest neither run nor content-skipped; {context}");
                }
            }
        });
    }
}
