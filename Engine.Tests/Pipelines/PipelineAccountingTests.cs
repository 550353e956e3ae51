using System.Collections.Concurrent;
using Engine.Dedupe;
using Engine.Pipelines;
using Engine.Retry;
using Engine.Stages;
using Engine.Tests.Support;

namespace Engine.Tests.Pipelines;

/// <summary>
/// Randomized three-stage pipelines (seeded; the seed is in the test name) with re-keying, dedupe in
/// the middle, random failures, retries, fan-out into a batch branch, and sometimes an abort. Every
/// stage's identity holds, and what each stage emitted is exactly what the next one accepted.
/// </summary>
public class PipelineAccountingTests
{
    private readonly record struct Event(int Id, int Entity, int Value);

    private static IEnumerable<TestCaseData> Seeds() =>
        Enumerable.Range(1, 30).Select(seed => new TestCaseData(seed).SetArgDisplayNames("seed " + seed));

    [TestCaseSource(nameof(Seeds))]
    public async Task Every_stage_accounts_for_every_item_and_hands_on_exactly_what_it_emitted(int seed)
    {
        var random = new Random(seed);
        double failureRate = random.NextDouble() * 0.2;
        bool dedupe = random.Next(2) == 0;
        bool abort = random.Next(4) == 0;
        int items = random.Next(200, 1500);
        int workers = random.Next(1, 4);
        var stored = new ConcurrentBag<int>();
        var batched = new ConcurrentBag<int>();
        bool Fails(int id, int stage) => (HashCode.Combine(seed, id, stage) & 0xFFFF) / 65536.0 < failureRate;

        await using Pipeline<Event> pipeline = Pipeline.Create<Event>("random-" + seed)
            .Then<Event>(
                "ingest",
                (e, _) => Fails(e.Id, 1) ? throw new TimeoutException() : ValueTask.FromResult(e),
                o => { o.KeySelector = e => e.Entity; o.Shards = 3; o.WorkersPerShard = workers; o.Capacity = 8; o.Retry = new RetryOptions { MaxAttempts = 2, BaseDelay = TimeSpan.Zero, MaxDelay = TimeSpan.Zero }; })
            .Then<Event>(
                "enrich",
                async (e, emit, _) =>
                {
                    await Task.Yield();
                    if (Fails(e.Id, 2))
                    {
                        throw new InvalidDataException();
                    }

                    // 0..2 outputs, re-keyed by value.
                    for (int i = 0; i < e.Id % 3; i++)
                    {
                        emit(e with { Value = e.Value + i });
                    }
                },
                o =>
                {
                    o.KeySelector = e => e.Entity;
                    o.Shards = 2;
                    o.WorkersPerShard = workers;
                    o.Capacity = 4;
                    o.Dedupe = dedupe ? new DedupeOptions<Event> { Mode = DedupeMode.Replace } : null;
                })
            .Broadcast(
                b => b.Sink("store", (e, _) => { stored.Add(e.Id); return default; }, o => { o.KeySelector = e => e.Value % 7; o.Capacity = 4; }),
                b => b.Batch("batch", size: 16, capacity: 8).Sink("bulk", (batch, _) => { foreach (Event e in batch) { batched.Add(e.Id); } return default; }))
            .Build();

        int abortAt = abort ? random.Next(items) : -1;
        for (int id = 0; id < items; id++)
        {
            if (id == abortAt)
            {
                await pipeline.AbortAsync().Within();
            }

            try
            {
                await pipeline.WriteAsync(new Event(id, random.Next(20), random.Next(1000)));
            }
            catch (StageCompletedException) when (abort)
            {
            }
        }

        PipelineCounts counts = await pipeline.StopAsync(Timeout.InfiniteTimeSpan).Within();
        string context = $"seed {seed}, dedupe {dedupe}, abort {abort}, failures {failureRate:F2}: {counts}";
        Assert.Multiple(() =>
        {
            foreach (PipelineStageCounts stage in counts.Stages)
            {
                StageCounts c = stage.Counts;
                Assert.That(c.Pending, Is.Zero, stage.Stage + "; " + context);
                Assert.That(c.Accepted, Is.EqualTo(c.Processed + c.DeadLettered + c.Dropped + c.Superseded + c.Abandoned), stage.Stage + "; " + context);
            }

            if (!abort)
            {
                Assert.That(counts["ingest"].Accepted, Is.EqualTo(items), context);
                Assert.That(counts.EmittedBy("ingest"), Is.EqualTo(counts["ingest"].Processed), context);
                Assert.That(counts["enrich"].Accepted, Is.EqualTo(counts.EmittedBy("ingest")), context);
                Assert.That(counts["store"].Accepted, Is.EqualTo(counts.EmittedBy("enrich")), context);
                Assert.That(counts["batch"].Accepted, Is.EqualTo(counts.EmittedBy("enrich")), context);
                Assert.That(counts["batch"].Processed, Is.EqualTo(counts["batch"].Accepted), context);
                Assert.That(stored, Has.Count.EqualTo(counts["store"].Processed), context);
                Assert.That(batched, Has.Count.EqualTo(counts["batch"].Processed), context);
                Assert.That(counts.Abandoned, Is.Zero, context);
            }
        });
    }
}
