using System.Collections.Concurrent;
using System.Threading.RateLimiting;
using Engine.Dedupe;
using Engine.RateLimits;
using Engine.Retry;
using Engine.Stages;
using Engine.Testing;
using Engine.Timing;

namespace Engine.Tests.Stages;

/// <summary>
/// Seeded random workloads mixing delayed writes, requeues, deferrals and rate limits with retries and
/// dedupe, on the harness's virtual clock: every item is accounted for exactly once, the identity holds,
/// and each key's items run in the order they were written.
/// </summary>
public class TimedHoldTortureTests
{
    private const int Runs = 2000;

    private sealed class TransientException() : Exception("transient");

    private readonly record struct Item(int Id, int Key);

    [Test]
    public async Task Every_item_is_accounted_for_and_each_key_runs_in_written_order([Range(0, 4)] int slice)
    {
        for (int seed = slice; seed < Runs; seed += 5)
        {
            await RunAsync(seed);
        }
    }

    private static async Task RunAsync(int seed)
    {
        var random = new Random(seed);
        int keys = random.Next(1, 6);
        int items = random.Next(10, 60);
        bool dedupe = random.Next(3) == 0;
        bool limited = random.Next(2) == 0;
        int maxAttempts = random.Next(2) == 0 ? 1 : 3;

        // Each item's fate per run, fixed by the seed: what its first runs do before it succeeds or fails for good.
        var plans = new int[items][];
        for (int i = 0; i < items; i++)
        {
            plans[i] = [.. Enumerable.Range(0, random.Next(0, 4)).Select(_ => random.Next(5))];
        }

        await using var harness = new EngineHarness(new EngineHarnessOptions { Seed = seed });
        var runs = new ConcurrentDictionary<int, int>();
        var ran = new ConcurrentQueue<Item>();
        var processed = new ConcurrentQueue<int>();
        var settled = new ConcurrentQueue<(int Id, string How)>();
        var options = new StageOptions<Item>
        {
            Name = "torture",
            KeySelector = item => item.Key,
            Shards = random.Next(1, 4),
            WorkersPerShard = random.Next(1, 4),
            Capacity = random.Next(1, 8),
            Delays = new DelayOptions { MaxDelay = TimeSpan.FromSeconds(10) },
            Retry = maxAttempts == 1 ? null : new RetryOptions { MaxAttempts = maxAttempts, BaseDelay = TimeSpan.FromMilliseconds(700), JitterRatio = 0, IsTransient = ex => ex is TransientException },
            Dedupe = dedupe ? new DedupeOptions<Item> { Mode = DedupeMode.Replace, OnSuperseded = (item, reason) => settled.Enqueue((item.Id, "superseded " + reason)) } : null,
            RateLimit = limited ? new RateLimitOptions<Item>
            {
                PerKey = _ => new ClockTokenBucketRateLimiter(new TokenBucketRateLimiterOptions { TokenLimit = 2, TokensPerPeriod = 1, ReplenishmentPeriod = TimeSpan.FromMilliseconds(300) }, harness.Clock),
                MaxKeysPerShard = random.Next(1, 4),
            } : null,
            OnDeadLetter = (item, _) => settled.Enqueue((item.Id, "dead-lettered")),
            OnDropped = (item, reason) => settled.Enqueue((item.Id, "dropped " + reason)),
        };
        Stage<Item> stage = harness.Stage(options, (item, context, ct) =>
        {
            ran.Enqueue(item);
            int run = runs.AddOrUpdate(item.Id, 1, (_, n) => n + 1) - 1;
            int[] plan = plans[item.Id];
            switch (run < plan.Length ? plan[run] : -1)
            {
                case 0:
                    throw new RequeueException(TimeSpan.FromMilliseconds(400 * run));
                case 1:
                    throw new DeferException(TimeSpan.FromMilliseconds(900));
                case 2:
                    throw new TransientException();
                case 3 when run == plan.Length - 1:
                    throw new InvalidOperationException("permanent");
                default:
                    processed.Enqueue(item.Id);
                    return default;
            }
        });

        for (int id = 0; id < items; id++)
        {
            var item = new Item(id, random.Next(keys));
            ValueTask write = random.Next(4) switch
            {
                0 => stage.WriteAsync(item, TimeSpan.FromMilliseconds(random.Next(0, 3000))),
                1 => stage.WriteAsync(item, harness.Now + TimeSpan.FromMilliseconds(random.Next(-500, 2000))),
                _ => stage.WriteAsync(item),
            };

            // A write may wait for room that only the clock frees (the shard holds its limit on timers).
            Task written = write.AsTask();
            while (!written.IsCompleted)
            {
                await harness.AdvanceAsync(TimeSpan.FromMilliseconds(100));
            }

            await written;
            if (random.Next(4) == 0)
            {
                await harness.AdvanceAsync(TimeSpan.FromMilliseconds(random.Next(0, 1500)));
            }
        }

        StageCounts counts = await harness.CompleteAsync(stage);
        string context = $"seed {seed}: {counts}";

        // Every item once: processed, dead-lettered, superseded or dropped (nothing is abandoned: the stage completed).
        var fates = processed.Select(id => (Id: id, How: "processed")).Concat(settled).ToList();
        Assert.That(fates.Select(f => f.Id).Order(), Is.EqualTo(Enumerable.Range(0, items)), context + " fates: " + string.Join(", ", fates.OrderBy(f => f.Id)));
        Assert.That(counts.Accepted, Is.EqualTo(items), context);
        Assert.That(counts.Accepted, Is.EqualTo(counts.Processed + counts.DeadLettered + counts.Dropped + counts.Superseded + counts.Abandoned), context);
        Assert.That((counts.Abandoned, counts.Pending, counts.Waiting, counts.WaitingDelayed, counts.WaitingRetry), Is.EqualTo((0L, 0L, 0L, 0L, 0L)), context);

        // Per key, runs never go back to an earlier item.
        foreach (IGrouping<int, Item> key in ran.GroupBy(r => r.Key))
        {
            int[] order = [.. key.Select(r => r.Id)];
            Assert.That(order, Is.Ordered, $"{context}: key {key.Key} ran {string.Join(",", order)}");
        }
    }
}
