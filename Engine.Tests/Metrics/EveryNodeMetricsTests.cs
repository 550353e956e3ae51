using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Threading.Channels;
using Engine.Metrics;
using Engine.Pipelines;
using Engine.Reporting;
using Engine.Tests.Support;

namespace Engine.Tests.Metrics;

/// <summary>
/// Every node that accepts items (stages, batchers, channel sinks) publishes its counts through every
/// path: the pipeline's snapshot, the console reporter, the <c>Engine</c> meter and InfluxDB, so what
/// those add up to is what <see cref="Pipeline{TIn}.GetCounts"/> says (issue 25: the batch node was missing).
/// </summary>
public class EveryNodeMetricsTests
{
    private const int Items = 500;

    /// <summary>work (keyed stage) → batch (up to 7) → store (sink of batches), and a channel sink beside it.</summary>
    private static Pipeline<int> Build(string name, Channel<int> tap) =>
        Pipeline.Create<int>(name)
            .Then<int>("work", (n, _) => ValueTask.FromResult(n * 2), o =>
            {
                o.KeySelector = n => (n % 50).ToString(System.Globalization.CultureInfo.InvariantCulture);
                o.Shards = 4;
            })
            .Broadcast(
                b => b.Batch("batch", size: 7).Sink("store", (IReadOnlyList<int> _, CancellationToken _) => default),
                b => b.SinkTo("tap", tap.Writer))
            .Build();

    private static async Task RunAsync(Pipeline<int> pipeline, Channel<int> tap)
    {
        Task drain = Task.Run(async () =>
        {
            await foreach (int _ in tap.Reader.ReadAllAsync())
            {
            }
        });
        for (int i = 0; i < Items; i++)
        {
            await pipeline.WriteAsync(i);
        }

        await pipeline.CompleteAsync().Within();
        await drain.Within();
    }

    [Test]
    public async Task The_pipeline_snapshot_has_every_node_with_its_counts_and_depth()
    {
        var tap = Channel.CreateUnbounded<int>();
        await using Pipeline<int> pipeline = Build("snap-" + Guid.NewGuid().ToString("N"), tap);
        await RunAsync(pipeline, tap);

        PipelineMetricsSnapshot snapshot = pipeline.TakeMetricsSnapshot();
        PipelineCounts counts = pipeline.GetCounts();
        Assert.That(snapshot.Stages.Select(s => s.Stage), Is.EqualTo(counts.Stages.Select(s => s.Stage)), "one snapshot per node, in the order of GetCounts");
        Assert.Multiple(() =>
        {
            foreach (StageMetricsSnapshot stage in snapshot.Stages)
            {
                Assert.That(stage.Counts, Is.EqualTo(counts[stage.Stage]), stage.Stage);
                Assert.That(stage.IntervalCounts.Accepted, Is.EqualTo(counts[stage.Stage].Accepted), stage.Stage + ": the first interval covers the whole run");
                Assert.That(stage.Depth, Is.Zero, stage.Stage + ": drained");
            }

            StageMetricsSnapshot batch = snapshot.Stages.Single(s => s.Stage == "batch");
            Assert.That(batch.Counts.Accepted, Is.EqualTo(Items));
            Assert.That(batch.Shards, Has.Count.EqualTo(1), "a batcher is one queue: shard 0");
            Assert.That(batch.EndToEnd, Is.Null, "not a sink");
        });
    }

    [Test]
    public async Task A_batch_node_s_waiting_items_are_its_depth()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var firstBatch = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using Pipeline<int> pipeline = Pipeline.Create<int>("depth-" + Guid.NewGuid().ToString("N"))
            .Batch("batch", size: 2)
            .Sink("store", async (IReadOnlyList<int> _, CancellationToken ct) =>
            {
                firstBatch.TrySetResult();
                await release.Task.WaitAsync(ct);
            }, o => o.Capacity = 1)
            .Build();

        // The first batch is in the sink's handler, the second in the sink's one slot of capacity; the
        // third (4, 5) cannot be handed on and 6 waits behind it: the batch node holds 3 items.
        try
        {
            for (int i = 0; i < 4; i++)
            {
                await pipeline.WriteAsync(i);
            }

            await firstBatch.Task.Within();
            for (int i = 4; i < 7; i++)
            {
                await pipeline.WriteAsync(i);
            }

            await TestWait.UntilAsync(() => pipeline.GetCounts()["batch"].Waiting == 3, "the batch node holds 3 items");
            StageMetricsSnapshot batch = pipeline.TakeMetricsSnapshot().Stages.Single(s => s.Stage == "batch");
            Assert.That(batch.Depth, Is.EqualTo(3));
        }
        finally
        {
            release.TrySetResult();
        }

        await pipeline.CompleteAsync().Within();
    }

    [Test]
    public async Task The_console_reporter_has_a_line_per_node()
    {
        var tap = Channel.CreateUnbounded<int>();
        await using Pipeline<int> pipeline = Build("console-" + Guid.NewGuid().ToString("N"), tap);
        using var writer = new StringWriter();
        await using (MetricsReporting reporting = MetricsReporting.Create().Add(pipeline).AddReporter(new ConsoleReporter(new ConsoleReporterOptions { Writer = writer, FlushInterval = TimeSpan.FromHours(1) })))
        {
            reporting.Start();
            await RunAsync(pipeline, tap);
        }

        string[] lines = writer.ToString().Split('\n');
        Assert.Multiple(() =>
        {
            foreach (string stage in new[] { "work", "batch", "store", "tap" })
            {
                Assert.That(lines.Any(l => l.TrimStart().StartsWith(stage + " ", StringComparison.Ordinal)), stage + " has a line:\n" + writer);
            }
        });
    }

    [Test]
    public async Task The_meter_publishes_every_node_s_accepted_items()
    {
        string name = "meter-" + Guid.NewGuid().ToString("N");
        var added = new ConcurrentDictionary<(string Stage, string Shard), long>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == EngineTelemetry.MeterName && instrument.Name == "engine.items.added")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            Dictionary<string, object?> t = tags.ToArray().ToDictionary(k => k.Key, k => k.Value);
            if ((string?)t["pipeline"] == name)
            {
                added[((string)t["stage"]!, t["shard"]!.ToString()!)] = value;
            }
        });
        listener.Start();

        var tap = Channel.CreateUnbounded<int>();
        await using Pipeline<int> pipeline = Build(name, tap);
        await RunAsync(pipeline, tap);
        listener.RecordObservableInstruments();

        PipelineCounts counts = pipeline.GetCounts();
        Assert.Multiple(() =>
        {
            foreach (PipelineStageCounts stage in counts.Stages)
            {
                Assert.That(added.Where(a => a.Key.Stage == stage.Stage).Sum(a => a.Value), Is.EqualTo(stage.Counts.Accepted), stage.Stage);
            }
        });
    }

    [Test]
    [NonParallelizable]
    public async Task What_InfluxDB_received_adds_up_to_the_pipeline_s_counts()
    {
        await using InfluxDbServer server = await InfluxDbServer.StartNewAsync();
        string name = "influx-" + Guid.NewGuid().ToString("N");
        var tap = Channel.CreateUnbounded<int>();
        await using Pipeline<int> pipeline = Build(name, tap);
        var reporter = new InfluxDbReporter(new InfluxDbReporterOptions { Url = server.Url.ToString(), Database = "engine", FlushInterval = TimeSpan.FromHours(1) });
        await using (MetricsReporting reporting = MetricsReporting.Create().Add(pipeline).AddReporter(reporter))
        {
            reporting.Start();
            await RunAsync(pipeline, tap);
            await reporting.StopAsync().Within();
            Assert.That(reporting.GetStatus().Single().Delivery!.Buffered, Is.Zero, "everything was delivered");
        }

        // What a user sums: the last value of each series (pipeline, stage, shard) of the cumulative counters.
        PipelineCounts counts = pipeline.GetCounts();
        foreach ((string measurement, Func<StageCounts, long> expected) in new (string, Func<StageCounts, long>)[]
        {
            ("engine__items_added", c => c.Accepted),
            ("engine__items_processed", c => c.Processed),
        })
        {
            string field = measurement == "engine__items_processed" ? "count.meter" : "value";
            List<InfluxDbServer.Series> series = await server.QueryAsync("engine", $"SELECT last(\"{field}\") FROM \"{measurement}\" WHERE \"pipeline\" = '{name}' GROUP BY \"stage\", \"shard\"");
            Dictionary<string, long> byStage = series.GroupBy(s => s.Tags["stage"]).ToDictionary(g => g.Key, g => g.Sum(s => Convert.ToInt64(s[0, "last"], System.Globalization.CultureInfo.InvariantCulture)));
            Assert.Multiple(() =>
            {
                foreach (PipelineStageCounts stage in counts.Stages)
                {
                    Assert.That(byStage.GetValueOrDefault(stage.Stage), Is.EqualTo(expected(stage.Counts)), $"{measurement} of {stage.Stage}");
                }

                Assert.That(byStage.Values.Sum(), Is.EqualTo(counts.Stages.Sum(s => expected(s.Counts))), measurement + ": the sum over every series is the summary's");
            });
        }

        // The totals query docs/reporting.md gives, as written there (with this pipeline's name).
        List<InfluxDbServer.Series> totals = await server.QueryAsync("engine", $"SELECT sum(\"last\") FROM (SELECT last(\"value\") FROM \"engine__items_added\" WHERE \"pipeline\" = '{name}' GROUP BY \"stage\", \"shard\") GROUP BY \"stage\"");
        Assert.That(totals.ToDictionary(s => s.Tags["stage"], s => Convert.ToInt64(s[0, "sum"], System.Globalization.CultureInfo.InvariantCulture)), Is.EquivalentTo(counts.Stages.ToDictionary(s => s.Stage, s => s.Counts.Accepted)));
    }
}
