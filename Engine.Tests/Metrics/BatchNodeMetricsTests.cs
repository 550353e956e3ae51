using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Engine.Metrics;
using Engine.Pipelines;
using Engine.Reporting;
using Engine.Tests.Support;
using Microsoft.Extensions.Time.Testing;

namespace Engine.Tests.Metrics;

/// <summary>
/// A batch node's own figures (issue 25): the wait of its items (write into the node to the start of
/// their batch's emission), the emission as its one worker's run (duration, busy time, utilisation),
/// the depth peak and the size of every batch, through the snapshot, the meter and the console reporter.
/// On a fake clock: every time below is exact.
/// </summary>
public class BatchNodeMetricsTests
{
    [Test]
    public async Task A_batch_node_times_its_items_waits_its_emissions_and_counts_its_batch_sizes()
    {
        string name = "batch-timed-" + Guid.NewGuid().ToString("N");
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

        // Every batch size the meter receives, in order; each one is recorded after its emission's
        // start was read, so once the test has seen it, moving the clock only moves the emission's end.
        var sizes = new ConcurrentQueue<double>();
        var waits = new ConcurrentQueue<double>();
        var sizeSeen = new SemaphoreSlim(0);
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == EngineTelemetry.MeterName && instrument.Name is "engine.batch.size" or "engine.queue.wait")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) =>
        {
            if (Tag(tags, "pipeline") != name || Tag(tags, "stage") != "batch")
            {
                return;
            }

            if (instrument.Name == "engine.batch.size")
            {
                sizes.Enqueue(value);
                sizeSeen.Release();
            }
            else
            {
                waits.Enqueue(value);
            }
        });
        listener.Start();

        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using Pipeline<int> pipeline = Pipeline.Create<int>(name, clock)
            .Batch("batch", size: 3)
            .Sink("store", (IReadOnlyList<int> _, CancellationToken ct) => new ValueTask(release.Task.WaitAsync(ct)), o => o.Capacity = 1)
            .Build();

        // The sink is released in any case, so a failed wait does not leave the pipeline undrainable.
        try
        {
            // Batch A: written at 0, 10 and 30 ms, emitted at 30 ms: waits 30, 20 and 0 ms.
            await pipeline.WriteAsync(0);
            clock.Advance(TimeSpan.FromMilliseconds(10));
            await pipeline.WriteAsync(1);
            clock.Advance(TimeSpan.FromMilliseconds(20));
            await pipeline.WriteAsync(2);
            await sizeSeen.WaitAsync().Within();
            await TestWait.UntilAsync(() => pipeline.GetCounts()["batch"].Processed == 3, "batch A handed on");

            // Batch B goes into the sink's one slot (its handler holds A) at once: waits 0, emission 0.
            for (int i = 3; i < 6; i++)
            {
                await pipeline.WriteAsync(i);
            }

            await sizeSeen.WaitAsync().Within();
            await TestWait.UntilAsync(() => pipeline.GetCounts()["batch"].Processed == 6, "batch B handed on");

            // Batch C finds the sink full: its emission lasts from 30 ms until the sink is released at 80 ms.
            for (int i = 6; i < 9; i++)
            {
                await pipeline.WriteAsync(i);
            }

            await sizeSeen.WaitAsync().Within();
            clock.Advance(TimeSpan.FromMilliseconds(50));
            release.SetResult();
        }
        finally
        {
            release.TrySetResult();
        }

        await pipeline.CompleteAsync().Within();

        StageMetricsSnapshot batch = pipeline.TakeMetricsSnapshot().Stages.Single(s => s.Stage == "batch");
        ShardMetricsSnapshot shard = batch.Shards.Single();
        Assert.Multiple(() =>
        {
            Assert.That(batch.BatchSize, Is.Not.Null);
            Assert.That(batch.BatchSize!.Count, Is.EqualTo(3), "batches emitted");
            Assert.That(batch.BatchSize.SumMilliseconds, Is.EqualTo(9), "items in them (the summary's milliseconds carry items)");
            Assert.That((batch.BatchSize.MinMilliseconds, batch.BatchSize.MaxMilliseconds, batch.BatchSize.LastMilliseconds, batch.BatchSize.MeanMilliseconds, batch.BatchSize.P50, batch.BatchSize.P99), Is.EqualTo((3.0, 3.0, 3.0, 3.0, 3.0, 3.0)));
            Assert.That(shard.BatchSize, Is.EqualTo(batch.BatchSize), "one shard: the node's summary is its shard's");

            Assert.That(batch.QueueWait.Count, Is.EqualTo(9), "every item's wait");
            Assert.That((batch.QueueWait.MinMilliseconds, batch.QueueWait.MaxMilliseconds, batch.QueueWait.SumMilliseconds), Is.EqualTo((0.0, 30.0, 50.0)));

            Assert.That(batch.WorkDuration.Count, Is.EqualTo(3), "one run per emission");
            Assert.That((batch.WorkDuration.MaxMilliseconds, batch.WorkDuration.SumMilliseconds), Is.EqualTo((50.0, 50.0)), "C waited 50 ms for room in the sink");
            Assert.That(shard.BusyTime, Is.EqualTo(TimeSpan.FromMilliseconds(50)));
            Assert.That(batch.Utilization, Is.EqualTo(50.0 / 80).Within(1e-9), "50 ms of emitting in the 80 ms since the start");
            Assert.That(shard.DepthPeak, Is.EqualTo(3), "the most items held at an accept (each batch was handed on before the next was written)");
            Assert.That(shard.Depth, Is.Zero);

            Assert.That(sizes, Is.EqualTo(new double[] { 3, 3, 3 }), "the meter's engine.batch.size");
            Assert.That(waits.Order(), Is.EqualTo(new[] { 0, 0, 0, 0, 0, 0, 0, 0.02, 0.03 }).Within(1e-9), "the meter's engine.queue.wait (s) of the batch node");
        });

        Assert.That(pipeline.TakeMetricsSnapshot().Stages.Single(s => s.Stage == "batch").BatchSize, Is.EqualTo(LatencySummary.Empty), "the next interval emitted nothing");
    }

    [Test]
    public async Task The_console_reporter_writes_a_batch_node_s_batches_and_waits()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        await using Pipeline<int> pipeline = Pipeline.Create<int>("batch-console-" + Guid.NewGuid().ToString("N"), clock)
            .Batch("batch", size: 2)
            .Sink("store", (IReadOnlyList<int> _, CancellationToken _) => default)
            .Build();
        using var writer = new StringWriter();
        await using (MetricsReporting reporting = MetricsReporting.Create().Add(pipeline).AddReporter(new ConsoleReporter(new ConsoleReporterOptions { Writer = writer, FlushInterval = TimeSpan.FromHours(1) })))
        {
            reporting.Start();
            for (int i = 0; i < 5; i++)
            {
                await pipeline.WriteAsync(i);
            }

            await pipeline.CompleteAsync().Within();
        }

        Assert.That(writer.ToString(), Does.Contain("batches 3, items per batch mean 1.7 p50 2 max 2; wait in batch p50 0.00 p99 0.00 ms"), writer.ToString());
    }

    [Test]
    public async Task With_metrics_off_a_batch_node_records_no_timings_but_its_counts()
    {
        await using Pipeline<int> pipeline = Pipeline.Create<int>("batch-off-" + Guid.NewGuid().ToString("N"), metrics: false)
            .Batch("batch", size: 2)
            .Sink("store", (IReadOnlyList<int> _, CancellationToken _) => default)
            .Build();
        for (int i = 0; i < 4; i++)
        {
            await pipeline.WriteAsync(i);
        }

        await pipeline.CompleteAsync().Within();
        StageMetricsSnapshot batch = pipeline.TakeMetricsSnapshot().Stages.Single(s => s.Stage == "batch");
        Assert.Multiple(() =>
        {
            Assert.That(batch.Counts.Processed, Is.EqualTo(4));
            Assert.That(batch.BatchSize, Is.Null);
            Assert.That(batch.QueueWait, Is.EqualTo(LatencySummary.Empty));
            Assert.That(batch.Utilization, Is.Zero);
        });
    }

    private static string? Tag(ReadOnlySpan<KeyValuePair<string, object?>> tags, string key)
    {
        foreach (KeyValuePair<string, object?> tag in tags)
        {
            if (tag.Key == key)
            {
                return tag.Value as string;
            }
        }

        return null;
    }
}
