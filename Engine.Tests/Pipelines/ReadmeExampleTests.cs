using System.Collections.Concurrent;
using Engine.Dedupe;
using Engine.Pipelines;
using Engine.Retry;

namespace Engine.Tests.Pipelines;

/// <summary>README's main example, with concrete types, so it keeps compiling and doing what it says.</summary>
public class ReadmeExampleTests
{
    private sealed record SensorEvent(string SensorId, string DeploymentId, int Reading);

    private sealed record Enriched(string SensorId, string DeploymentId, int Reading, ulong StateHash);

    private sealed record Alert(string DeploymentId, int Reading);

    [Test]
    public async Task The_main_example_runs_three_stages_with_dedupe_per_sensor_in_the_middle_and_batches_into_the_sink()
    {
        var stored = new ConcurrentQueue<Alert>();
        var latencies = new ConcurrentQueue<TimeSpan>();
        var lastDetected = new ConcurrentDictionary<string, int>();
        static ValueTask<Enriched> EnrichAsync(SensorEvent e, CancellationToken ct) =>
            ValueTask.FromResult(new Enriched(e.SensorId, e.DeploymentId, e.Reading, (ulong)e.Reading));
        static IEnumerable<Alert> Detect(Enriched e) => e.Reading > 50 ? [new Alert(e.DeploymentId, e.Reading)] : [];
        ValueTask StoreAsync(IReadOnlyList<Alert> alerts, TimeSpan age, CancellationToken ct)
        {
            foreach (Alert a in alerts)
            {
                stored.Enqueue(a);
            }

            latencies.Enqueue(age);
            return default;
        }

        await using var pipeline = Pipeline.Create<SensorEvent>("sensor")
            .Then<Enriched>("enrich", EnrichAsync, o =>
            {
                o.KeySelector = e => e.SensorId;
                o.Shards = 16;
                o.Retry = new RetryOptions { MaxAttempts = 5, IsTransient = ex => ex is TimeoutException };
            })
            .Then<Alert>("detect", (e, emit, ct) =>
            {
                lastDetected.AddOrUpdate(e.SensorId, e.Reading, (_, seen) => Math.Max(seen, e.Reading));
                foreach (Alert a in Detect(e))
                {
                    emit(a);
                }

                return default;
            }, o =>
            {
                o.KeySelector = e => e.DeploymentId;
                o.Dedupe = new DedupeOptions<Enriched>
                {
                    Mode = DedupeMode.Replace,
                    KeySelector = e => e.SensorId,
                    ContentHash = e => e.StateHash,
                };
            })
            .Batch("batch", size: 500, window: TimeSpan.FromSeconds(1))
            .Sink("store", (alerts, ctx, ct) => StoreAsync(alerts, ctx.Age, ct))
            .Build();

        for (int i = 0; i < 100; i++)
        {
            // A sensor belongs to one deployment, so the dedupe key (sensor) refines the routing key (deployment).
            await pipeline.WriteAsync(new SensorEvent("s" + (i % 10), "d" + (i % 10 % 3), i));
        }

        await pipeline.CompleteAsync();
        PipelineCounts counts = pipeline.GetCounts();
        Assert.Multiple(() =>
        {
            Assert.That(counts["enrich"].Processed, Is.EqualTo(100));
            Assert.That(counts["detect"].Processed + counts["detect"].Superseded, Is.EqualTo(100));
            Assert.That(stored, Has.Count.EqualTo(counts.EmittedBy("detect")));
            Assert.That(stored.All(a => a.Reading > 50), Is.True);
            Assert.That(latencies, Is.Not.Empty);
            Assert.That(counts.IsConserved, Is.True);

            // Dedupe is per sensor: every sensor's newest event reaches detect (sensors of one
            // deployment never replace each other, as they did when detect deduped by deployment).
            Assert.That(lastDetected, Is.EquivalentTo(Enumerable.Range(90, 10).Select(i => new KeyValuePair<string, int>("s" + (i % 10), i))));
        });
    }
}
