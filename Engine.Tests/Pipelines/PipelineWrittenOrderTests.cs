using Engine.Dedupe;
using Engine.Pipelines;
using Engine.Retry;
using Engine.Stages;
using Engine.Tests.Support;

namespace Engine.Tests.Pipelines;

/// <summary>
/// The ordering rule through a pipeline: several writers write into a replace-dedupe head stage whose
/// writers wait for room (capacities 1–3), which hands every item it processed on to a keyed sink.
/// At the head, of two items of one key (dedupe key, where finer) the one whose write returned before
/// the other's began runs first; at the sink, of two items of one head key the one the head ran first
/// runs first. Seeded; more seeds with <c>CI=true</c>.
/// </summary>
/// <remarks>On the code before the fix of issue 22 the head's check failed within the first hundred seeds.</remarks>
public class PipelineWrittenOrderTests
{
    private readonly record struct Update(int Id, int Key, int Sub, int Content);

    private static readonly bool Ci = string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    [Test]
    public async Task Writes_keep_their_order_at_the_head_and_at_the_sink()
    {
        int seeds = Ci ? 2_000 : 500;
        for (int seed = 0; seed < seeds; seed++)
        {
            var random = new Random(seed);
            int writers = random.Next(1, 5);
            int perWriter = random.Next(20, 100);
            int keys = random.Next(1, 12);
            int shape = random.Next(4); // 0 no dedupe; 1 replace; 2 merge and content; 3 a finer dedupe key
            int workers = random.Next(1, 4);
            int capacity = random.Next(1, 4);
            bool retries = random.Next(2) == 0;
            bool abort = random.Next(4) == 0;
            string context = $"seed {seed}: writers={writers} perWriter={perWriter} keys={keys} shape={shape} workers={workers} capacity={capacity} retries={retries} abort={abort}";
            int total = writers * perWriter;
            var head = new WriteOrderLog(total);
            var sink = new WriteOrderLog(total);
            var attempts = new int[total];
            int OrderKey(Update u) => shape == 3 ? (u.Key * 2) + u.Sub : u.Key;

            await using Pipeline<Update> pipeline = Pipeline.Create<Update>("order-" + seed)
                .Then<Update>(
                    "head",
                    async (u, _) =>
                    {
                        head.RunStarted(u.Id);
                        int attempt = Interlocked.Increment(ref attempts[u.Id]);
                        if ((u.Id + attempt) % 3 == 0)
                        {
                            await Task.Yield();
                        }

                        if (u.Id % 29 == 5)
                        {
                            throw new InvalidOperationException("permanent");
                        }

                        return attempt == 1 && u.Id % 7 == 2 ? throw new TimeoutException("transient") : u;
                    },
                    o =>
                    {
                        o.KeySelector = u => u.Key;
                        o.Shards = 2;
                        o.WorkersPerShard = workers;
                        o.Capacity = capacity;
                        o.Retry = retries ? new RetryOptions { MaxAttempts = 3, BaseDelay = TimeSpan.Zero, MaxDelay = TimeSpan.Zero, IsTransient = ex => ex is TimeoutException } : null;
                        o.Dedupe = shape == 0 ? null : new DedupeOptions<Update>
                        {
                            Mode = DedupeMode.Replace,
                            Merge = shape == 2 ? (_, incoming) => incoming : null,
                            ContentHash = shape == 2 ? u => (ulong)u.Content : null,
                            KeySelector = shape == 3 ? u => (u.Key * 2) + u.Sub : null,
                        };
                    })
                .Sink(
                    "sink",
                    async (u, _) =>
                    {
                        sink.RunStarted(u.Id);
                        if (u.Id % 2 == 0)
                        {
                            await Task.Yield();
                        }
                    },
                    o =>
                    {
                        o.KeySelector = u => u.Key;
                        o.Shards = 2;
                        o.WorkersPerShard = workers;
                        o.Capacity = capacity;
                    })
                .Build();

            int written = 0;
            int abortAt = abort ? random.Next(1, total) : -1;
            var aborting = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var items = new Update[total];
            Task[] writing = Enumerable.Range(0, writers).Select(w => Task.Run(async () =>
            {
                var mine = new Random((seed * 17) + w);
                for (int n = 0; n < perWriter; n++)
                {
                    int id = (w * perWriter) + n;
                    var u = new Update(id, mine.Next(keys), mine.Next(2), mine.Next(3));
                    items[id] = u;
                    head.WriteStarted(id, OrderKey(u), $"writer {w}'s item {n} (id {id}, key {u.Key}.{u.Sub})");
                    try
                    {
                        await pipeline.WriteAsync(u);
                    }
                    catch (StageCompletedException)
                    {
                        return;
                    }

                    head.WriteReturned(id);
                    if (Interlocked.Increment(ref written) == abortAt)
                    {
                        aborting.TrySetResult();
                    }
                }
            })).ToArray();

            Task all = Task.WhenAll(writing);
            await Task.WhenAny(all, aborting.Task).Within();
            PipelineCounts counts = abort
                ? await pipeline.AbortAsync().Within()
                : await pipeline.StopAsync(Timeout.InfiniteTimeSpan).Within();
            await all.Within();

            for (int id = 0; id < total; id++)
            {
                if (head.Ran(id))
                {
                    sink.Follow(id, items[id].Key, $"item {id} (key {items[id].Key})", head);
                }
            }

            string? atHead = head.FirstViolation();
            string? atSink = sink.FirstViolation();
            Assert.Multiple(() =>
            {
                Assert.That(atHead, Is.Null, "head; " + context);
                Assert.That(atSink, Is.Null, "sink; " + context);
                Assert.That(counts.IsConserved, Is.True, $"{context}: {counts}");
            });
            if (atHead is not null || atSink is not null)
            {
                return;
            }
        }
    }
}
