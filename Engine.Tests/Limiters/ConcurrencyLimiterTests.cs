using Engine.Limiters;
using Engine.Metrics;
using Engine.Tests.Support;
using Microsoft.Extensions.Time.Testing;

namespace Engine.Tests.Limiters;

public class ConcurrencyLimiterTests
{
    /// <summary>
    /// Seeded rounds: every slot held, a queue of callers (some with tokens), a random subset of those
    /// tokens cancelled, then every slot handed on one by one. The callers whose token fired throw and
    /// never hold a slot; the others get the slots in the order they called.
    /// </summary>
    [Test]
    public async Task A_cancelled_waiter_throws_and_its_slot_goes_to_the_next_caller_in_order([Values(1, 2, 3)] int seed)
    {
        var random = new Random(seed);
        for (int round = 0; round < 300; round++)
        {
            int max = random.Next(1, 4);
            using ConcurrencyLimiter limiter = ConcurrencyLimiter.Create(new ConcurrencyLimiterOptions { Name = "fifo", MaxConcurrency = max });
            var held = new Queue<ConcurrencyLimiter.Lease>();
            for (int i = 0; i < max; i++)
            {
                held.Enqueue(await limiter.AcquireAsync());
            }

            int callers = random.Next(2, 9);
            var sources = new CancellationTokenSource?[callers];
            var waits = new Task<ConcurrencyLimiter.Lease>[callers];
            for (int i = 0; i < callers; i++)
            {
                sources[i] = random.Next(2) == 0 ? new CancellationTokenSource() : null;
                waits[i] = limiter.AcquireAsync(sources[i]?.Token ?? default).AsTask();
            }

            // Cancelled synchronously, and a slot handed on at once: the release must not reach them.
            var cancelled = new HashSet<int>();
            for (int i = 0; i < callers; i++)
            {
                if (sources[i] is { } source && random.Next(3) != 0)
                {
                    source.Cancel();
                    cancelled.Add(i);
                }
            }

            held.Dequeue().Dispose();
            foreach (int i in cancelled)
            {
                await Task.WhenAny(waits[i]).Within();
                Assert.That(waits[i].IsCanceled, Is.True, $"seed {seed}, round {round}: caller {i}'s token fired before a slot was handed on, yet it got one");
            }

            int[] served = [.. Enumerable.Range(0, callers).Where(i => !cancelled.Contains(i))];
            for (int k = 0; k < served.Length; k++)
            {
                if (k > 0)
                {
                    held.Dequeue().Dispose();
                }

                held.Enqueue(await waits[served[k]].Within());
                Assert.That(served.Skip(k + 1).Any(later => waits[later].IsCompleted), Is.False, $"seed {seed}, round {round}: a caller after {served[k]} was served with it");
            }

            foreach (ConcurrencyLimiter.Lease lease in held)
            {
                lease.Dispose();
            }

            Assert.That((limiter.Held, limiter.WaitingCount), Is.EqualTo((0, 0)), $"seed {seed}, round {round}: a slot leaked");
            foreach (CancellationTokenSource? source in sources)
            {
                source?.Dispose();
            }
        }
    }

    [Test]
    public async Task The_last_wait_time_is_the_most_recent_wait([Values(7, 8)] int seed)
    {
        var random = new Random(seed);
        var time = new FakeTimeProvider();
        using ConcurrencyLimiter limiter = ConcurrencyLimiter.Create(new ConcurrencyLimiterOptions { Name = "last", MaxConcurrency = 1, TimeProvider = time });
        ConcurrencyLimiter.Lease held = await limiter.AcquireAsync();
        Assert.That(limiter.TakeMetricsSnapshot().WaitTime.LastMilliseconds, Is.Zero, "a first acquire that did not wait");
        for (int i = 0; i < 20; i++)
        {
            int waitMs = random.Next(1, 1_000);
            ValueTask<ConcurrencyLimiter.Lease> next = limiter.AcquireAsync();
            time.Advance(TimeSpan.FromMilliseconds(waitMs));
            held.Dispose();
            held = await next.AsTask().Within();
            if (random.Next(2) == 0)
            {
                continue;
            }

            LatencySummary waits = limiter.TakeMetricsSnapshot().WaitTime;
            Assert.That(waits.LastMilliseconds, Is.EqualTo(waitMs), $"seed {seed}, step {i}");
        }

        held.Dispose();
    }

    /// <summary>
    /// Many callers acquiring with tokens cancelled at random moments, leases disposed from several
    /// threads, snapshots taken all along: the limit is never exceeded, no slot leaks, nothing hangs,
    /// every snapshot's wait time is consistent (min ≤ mean ≤ max, min ≤ last ≤ max) and the snapshots
    /// count every acquire once.
    /// </summary>
    [Test]
    public async Task Under_random_cancellation_the_limit_holds_no_slot_leaks_and_every_snapshot_is_consistent([Values(11, 12)] int seed)
    {
        const int Max = 3;
        using ConcurrencyLimiter limiter = ConcurrencyLimiter.Create(new ConcurrencyLimiterOptions { Name = "stress", MaxConcurrency = Max });
        int inside = 0;
        int exceeded = 0;
        long acquired = 0;
        async Task CallerAsync(int caller)
        {
            var random = new Random((seed * 1_000) + caller);
            for (int i = 0; i < 300; i++)
            {
                using var source = new CancellationTokenSource();
                ValueTask<ConcurrencyLimiter.Lease> acquire = limiter.AcquireAsync(source.Token);
                if (random.Next(3) == 0)
                {
                    await source.CancelAsync();
                }

                ConcurrencyLimiter.Lease lease;
                try
                {
                    lease = await acquire;
                }
                catch (OperationCanceledException)
                {
                    continue;
                }

                Interlocked.Increment(ref acquired);

                if (Interlocked.Increment(ref inside) > Max)
                {
                    Interlocked.Increment(ref exceeded);
                }

                await Task.Yield();
                Interlocked.Decrement(ref inside);
                if (random.Next(2) == 0)
                {
                    lease.Dispose();
                }
                else
                {
                    await Task.Run(lease.Dispose);
                }
            }
        }

        Task callers = Task.WhenAll(Enumerable.Range(0, 32).Select(c => Task.Run(() => CallerAsync(c))));
        var inconsistent = new List<LatencySummary>();
        long counted = 0;
        await Task.Run(() =>
        {
            while (!callers.IsCompleted)
            {
                LatencySummary waits = limiter.TakeMetricsSnapshot().WaitTime;
                counted += waits.Count;
                if (waits.Count > 0 && !(waits.MinMilliseconds <= waits.MeanMilliseconds && waits.MeanMilliseconds <= waits.MaxMilliseconds
                    && waits.MinMilliseconds <= waits.LastMilliseconds && waits.LastMilliseconds <= waits.MaxMilliseconds))
                {
                    inconsistent.Add(waits);
                }
            }
        });

        await callers.Within();
        counted += limiter.TakeMetricsSnapshot().WaitTime.Count;
        Assert.Multiple(() =>
        {
            Assert.That((exceeded, limiter.Held, limiter.WaitingCount), Is.EqualTo((0, 0, 0)));
            Assert.That(inconsistent, Is.Empty);
            Assert.That(counted, Is.EqualTo(acquired), "every acquire in exactly one snapshot");
        });
    }
}
