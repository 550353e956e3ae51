using Engine.Demo;
using Engine.Limiters;
using Engine.Pipelines;
using Engine.Windows;

namespace Engine.Testing.Tests;

/// <summary>
/// The demo's pipeline (Engine.Demo's DemoPipeline, unchanged but for its clock and simulated I/O)
/// through the public kit: its retries and its per-namespace batches (a keyed window) are driven by advancing the clock.
/// </summary>
public class DemoPipelineTests
{
    /// <summary>The demo's retries: 4 attempts from 20 ms, doubling by default (see DemoPipeline.EnrichRetry).</summary>
    private static readonly TimeSpan FirstBackoff = TimeSpan.FromMilliseconds(20);

    [Test]
    public async Task Transient_failures_are_retried_permanent_ones_dead_lettered_and_alerts_wait_for_their_namespace_batch()
    {
        await using var harness = new EngineHarness();
        using ConcurrencyLimiter limiter = ConcurrencyLimiter.Create(new ConcurrencyLimiterOptions { Name = "enrich-io", MaxConcurrency = 64, TimeProvider = harness.Clock });

        // Entity e1 fails transiently on its first call, e2 on its first two, e3 permanently; the rest succeed.
        var calls = new Dictionary<string, int>();
        double Roll(StateUpdate u)
        {
            lock (calls)
            {
                int call = calls[u.Entity!] = calls.GetValueOrDefault(u.Entity!) + 1;
                return (u.Entity, call) switch
                {
                    ("e1", 1) or ("e2", 1) or ("e2", 2) => 0.01,   // transient
                    ("e3", _) => 0.021,                            // permanent
                    _ => 0.5,
                };
            }
        }

        var io = new DemoIo(harness.Clock, () => TimeSpan.FromMilliseconds(2), Roll);
        var options = new DemoOptions { Shards = 2, Workers = 16, Capacity = 64 };
        Pipeline<StateUpdate> pipeline = DemoPipeline.Build(options, limiter, io);
        SourceProbe<StateUpdate> source = harness.Source(pipeline);
        DateTimeOffset start = harness.Now;

        // Content hashes chosen so that every update raises at least one alert (DemoPipeline.Detect: h % 3 alerts after mixing).
        StateUpdate[] updates = [.. Enumerable.Range(0, 10).Select(i => new StateUpdate($"e{i}", "pod", $"ns{i % 3}", 1, AlertingHash(i), false))];
        source.Send(updates);

        // The simulated calls take 2 ms on the clock: nothing reaches detect until time moves.
        await harness.RunUntilIdleAsync();
        Assert.That(harness.View<StateUpdate>("detect").Counts.Processed, Is.Zero);

        // 2 ms: the first calls end; e1 and e2 fail and wait 20 ms for their retry, e3 is dead-lettered.
        await harness.AdvanceAsync(TimeSpan.FromMilliseconds(2));
        Assert.That(harness.View<StateUpdate>("detect").Counts.Processed, Is.EqualTo(7));
        Assert.That(harness.View<StateUpdate>("enrich").DeadLetters.Select(d => d.Item.Entity), Is.EqualTo(new[] { "e3" }));
        Assert.That(harness.View<StateUpdate>("enrich").Counts.Pending, Is.EqualTo(2), "e1 and e2 wait for their retry");

        // Past the first backoff and its call: e1 succeeds on its second attempt, e2 fails again (next backoff 40 ms).
        await harness.AdvanceAsync(FirstBackoff + TimeSpan.FromMilliseconds(2));
        Assert.That(harness.View<StateUpdate>("detect").Counts.Processed, Is.EqualTo(8));

        // The alerts sit in their namespace's batch (100 alerts or 500 ms from its first, a keyed window):
        // ns0, ns1 and ns2 each got their first alert within the first few ms, and e1's and e2's later
        // alerts join their namespace's open batch.
        var store = harness.View<KeyedWindow<IReadOnlyList<Alert>>>("store");
        Assert.That(store.Counts.Processed, Is.Zero);
        Assert.That(harness.Describe(), Does.Contain("window(s) open"));
        await harness.AdvanceAsync(TimeSpan.FromMilliseconds(501) - (harness.Now - start));
        Assert.That(store.Counts.Processed, Is.Zero, "no batch closed before 500 ms after its first alert");

        // The three batches close a little after 500 ms (500 ms after each namespace's first alert);
        // the store writes them one after another, 2 ms each on the clock.
        await harness.AdvanceAsync(TimeSpan.FromMilliseconds(510) - (harness.Now - start));
        Assert.That(store.Counts.Processed, Is.EqualTo(3), "one batch per namespace was stored");
        Assert.That(harness.Describe(), Does.Contain("idle, nothing waits"));

        PipelineCounts counts = await harness.CompleteAsync(pipeline);
        Assert.That(counts.Stages.Single(s => s.Stage == "enrich").Counts.Processed, Is.EqualTo(9));
        Assert.That(counts.Stages.Single(s => s.Stage == "enrich").Counts.Retries, Is.EqualTo(3));
        Assert.That(counts.Stages.Single(s => s.Stage == "enrich").Counts.DeadLettered, Is.EqualTo(1));
        Assert.That(calls["e2"], Is.EqualTo(3));
        PipelineStageCounts detect = counts.Stages.Single(s => s.Stage == "detect");
        Assert.That(detect.Emitted, Is.GreaterThanOrEqualTo(9), "every update raised an alert");
        Assert.That(counts.Stages.Single(s => s.Stage == "batch").Counts.Processed, Is.EqualTo(detect.Emitted), "every alert was batched and stored");
    }

    /// <summary>A content hash for which the demo's detect step raises at least one alert.</summary>
    private static ulong AlertingHash(int seed)
    {
        for (ulong candidate = (ulong)seed * 1000; ; candidate++)
        {
            ulong h = candidate;
            for (int i = 0; i < 200; i++)
            {
                h = (h ^ (h >> 31)) * 0x9E3779B97F4A7C15UL;
            }

            if (h % 3 != 0)
            {
                return candidate;
            }
        }
    }
}
