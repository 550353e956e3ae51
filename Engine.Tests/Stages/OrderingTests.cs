using System.Collections.Concurrent;
using Engine.Retry;
using Engine.Stages;
using Engine.Tests.Support;

namespace Engine.Tests.Stages;

public class OrderingTests
{
    private readonly record struct Update(int Key, int Sequence);

    [TestCase(1, 1, false)]
    [TestCase(2, 4, false)]
    [TestCase(3, 3, true)]
    [TestCase(1, 8, true)]
    [TestCase(2, 1, true)]
    public async Task Items_of_one_key_run_in_order_and_never_concurrently(int shards, int workers, bool failSometimes)
    {
        const int writers = 8;
        const int keysPerWriter = 6;
        const int updatesPerKey = 300;
        var seen = new ConcurrentDictionary<int, List<int>>();
        var running = new ConcurrentDictionary<int, int>();
        int overlaps = 0;
        int maxParallel = 0;
        int inHandlers = 0;
        var failures = new ConcurrentDictionary<Update, int>();

        await using var stage = Stage.Create(
            new StageOptions<Update>
            {
                Name = "ordered",
                Shards = shards,
                WorkersPerShard = workers,
                Capacity = 16,
                KeySelector = u => u.Key,
                Retry = failSometimes ? new RetryOptions { MaxAttempts = 10, BaseDelay = TimeSpan.Zero, MaxDelay = TimeSpan.Zero } : null,
            },
            async (u, ct) =>
            {
                if (running.AddOrUpdate(u.Key, 1, (_, n) => n + 1) > 1)
                {
                    Interlocked.Increment(ref overlaps);
                }

                int now = Interlocked.Increment(ref inHandlers);
                int seenMax;
                while (now > (seenMax = Volatile.Read(ref maxParallel)) && Interlocked.CompareExchange(ref maxParallel, now, seenMax) != seenMax)
                {
                }

                await Task.Yield();
                try
                {
                    // A deterministic first-attempt failure for one update in seven exercises the retry path.
                    if (failSometimes && u.Sequence % 7 == 3 && failures.AddOrUpdate(u, 1, (_, n) => n + 1) == 1)
                    {
                        throw new TimeoutException("transient");
                    }

                    List<int> list = seen.GetOrAdd(u.Key, _ => []);
                    lock (list)
                    {
                        list.Add(u.Sequence);
                    }
                }
                finally
                {
                    Interlocked.Decrement(ref inHandlers);
                    running.AddOrUpdate(u.Key, 0, (_, n) => n - 1);
                }
            });

        await Task.WhenAll(Enumerable.Range(0, writers).Select(w => Task.Run(async () =>
        {
            for (int s = 0; s < updatesPerKey; s++)
            {
                for (int k = 0; k < keysPerWriter; k++)
                {
                    await stage.WriteAsync(new Update((w * keysPerWriter) + k, s));
                }
            }
        }))).Within();
        stage.Complete();
        await stage.Completion.Within();

        Assert.Multiple(() =>
        {
            Assert.That(overlaps, Is.Zero, "a key was in two handlers at once");
            Assert.That(seen.Keys, Has.Count.EqualTo(writers * keysPerWriter));
            foreach ((int key, List<int> sequence) in seen)
            {
                Assert.That(sequence, Is.EqualTo(Enumerable.Range(0, updatesPerKey)), $"key {key} out of order");
            }

            StageCounts counts = stage.GetCounts();
            Assert.That(counts.Processed, Is.EqualTo(writers * keysPerWriter * updatesPerKey));
            Assert.That(counts.IsConserved && counts.Pending == 0, Is.True, counts.ToString());
        });
        if (workers > 1)
        {
            Assert.That(maxParallel, Is.GreaterThan(1), "several workers did run in parallel");
        }
    }
}
