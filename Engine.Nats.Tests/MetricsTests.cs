using System.Diagnostics.Metrics;
using System.Globalization;
using Engine.Nats.Tests.Support;
using Engine.Reporting;
using NATS.Client.Core;

namespace Engine.Nats.Tests;

/// <summary>Per-partition figures: the snapshot (server figures read on demand), the Engine meter, and the reporters.</summary>
public class MetricsTests
{
    private NatsServer _server = null!;

    [OneTimeSetUp]
    public async Task StartServer() => _server = await NatsServer.StartNewAsync();

    [OneTimeTearDown]
    public async Task StopServer() => await _server.DisposeAsync();

    [Test]
    public async Task The_snapshot_and_the_engine_meter_show_owner_epoch_and_what_is_held_unacknowledged()
    {
        await using NatsConnection connection = _server.Connect();
        NatsStageOptions<TestItem> options = TestStage.Options("figures", partitions: 4, member: "m");
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using NatsStageMember<TestItem> member = await NatsStage.StartMemberAsync<TestItem>(connection, options, async (_, _, ct) =>
        {
            entered.TrySetResult();
            await gate.Task.WaitAsync(ct);
        });
        await TestWait.UntilAsync(() => member.OwnedPartitions.Count == 4, h => member.OwnershipChanged += h, h => member.OwnershipChanged -= h, "m owns all 4");
        NatsStageWriter<TestItem> writer = await NatsStage.CreateWriterAsync(connection, options);
        await writer.WriteAsync(new TestItem("held", 1));
        await entered.Task.Within();

        NatsStageSnapshot snapshot = await member.GetSnapshotAsync();
        NatsPartitionSnapshot held = snapshot.Partitions[NatsStage.PartitionOf("held", 4)];

        Assert.That(snapshot.Partitions.Select(p => p.Owner), Is.All.EqualTo("m"));
        Assert.That(snapshot.Partitions.Select(p => p.Epoch), Is.All.GreaterThan(0UL));
        Assert.That(held.AckPending, Is.EqualTo(1), "delivered, in the handler, not acknowledged");
        Assert.That(held.HeldLocally, Is.EqualTo(1));
        Assert.That(held.Pending, Is.Zero);
        Assert.That(held.Handovers, Is.EqualTo(1));

        var owned = new List<(long Value, string? Member)>();
        var epochs = new List<long>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == "Engine" && instrument.Name.StartsWith("engine.nats.", StringComparison.Ordinal))
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            string? memberTag = null;
            foreach (KeyValuePair<string, object?> tag in tags)
            {
                if (tag.Key == "member")
                {
                    memberTag = tag.Value as string;
                }
            }

            if (memberTag != "m")
            {
                return;
            }

            if (instrument.Name == "engine.nats.partitions.owned")
            {
                owned.Add((value, memberTag));
            }
            else if (instrument.Name == "engine.nats.partition.epoch")
            {
                epochs.Add(value);
            }
        });
        listener.Start();
        listener.RecordObservableInstruments();

        Assert.That(owned, Is.EqualTo(new[] { (4L, (string?)"m") }));
        Assert.That(epochs, Has.Count.EqualTo(4));
        gate.TrySetResult();
    }

    [Test]
    public async Task A_member_added_to_reporting_shows_every_partition_with_owner_epoch_and_what_is_held_in_every_reporter()
    {
        await using NatsConnection connection = _server.Connect();
        NatsStageOptions<TestItem> options = TestStage.Options("reported", partitions: 4, member: "r");
        // No background refresh: the test refreshes the cache itself, so what the report shows is known.
        options.ServerFiguresInterval = TimeSpan.Zero;
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using NatsStageMember<TestItem> member = await NatsStage.StartMemberAsync<TestItem>(connection, options, async (item, _, ct) =>
        {
            if (item.Key == "held")
            {
                entered.TrySetResult();
                await gate.Task.WaitAsync(ct);
            }
        });
        await TestWait.UntilAsync(() => member.OwnedPartitions.Count == 4, h => member.OwnershipChanged += h, h => member.OwnershipChanged -= h, "r owns all 4");
        NatsStageWriter<TestItem> writer = await NatsStage.CreateWriterAsync(connection, options);
        await writer.WriteAsync(new TestItem("held", 1));
        await entered.Task.Within();
        await member.RefreshServerFiguresAsync(CancellationToken.None);

        try
        {
            var capture = new CapturingReporter();
            using var text = new StringWriter();
            await using MetricsReporting reporting = MetricsReporting.Create(new MetricsReportingOptions { FlushOnStop = false })
                .Add(member)
                .AddReporter(capture)
                .AddReporter(new ConsoleReporter(new ConsoleReporterOptions { Writer = text, AppMetricsText = true, FlushInterval = TimeSpan.FromHours(1) }));
            reporting.Start();
            await reporting.FlushAsync().Within();

            SourceMetricsSnapshot source = capture.Last!.Sources.Single();
            int heldPartition = NatsStage.PartitionOf("held", 4);
            NatsStageSnapshot snapshot = await member.GetSnapshotAsync();
            double Point(string name, int? partition = null) => source.Points.Single(p => p.Name == name && Tag(p, "partition") == partition?.ToString(CultureInfo.InvariantCulture)).Value;
            static string? Tag(MetricPoint point, string key) => point.Tags.FirstOrDefault(t => t.Key == key).Value;

            Assert.Multiple(() =>
            {
                Assert.That(source.Source, Is.EqualTo("nats:reported:r"));
                Assert.That(source.Failed, Is.False);
                Assert.That(Point("nats_partitions_owned"), Is.EqualTo(4));
                Assert.That(Point("nats_leases_lost"), Is.Zero);
                for (int p = 0; p < 4; p++)
                {
                    MetricPoint[] partition = [.. source.Points.Where(x => Tag(x, "partition") == p.ToString(CultureInfo.InvariantCulture))];
                    Assert.That(
                        partition.Select(x => x.Name),
                        Is.EqualTo(new[] { "nats_partition_owned", "nats_partition_epoch", "nats_partition_handovers", "nats_partition_pending", "nats_partition_ack_pending", "nats_partition_redelivered", "nats_partition_held", "nats_partition_acked", "nats_partition_takeover" }),
                        "every figure of an owned partition, in order");
                    Assert.That(partition.Select(x => Tag(x, "stage") + "/" + Tag(x, "member") + "/" + Tag(x, "owner")), Is.All.EqualTo("reported/r/r"));
                    Assert.That(Point("nats_partition_owned", p), Is.EqualTo(1));
                    Assert.That(Point("nats_partition_epoch", p), Is.EqualTo((double)snapshot.Partitions[p].Epoch).And.GreaterThan(0));
                    Assert.That(Point("nats_partition_handovers", p), Is.EqualTo(1));
                    Assert.That(Point("nats_partition_takeover", p), Is.EqualTo(snapshot.Partitions[p].LastTakeover!.Value.TotalSeconds), "the time it waited, as the snapshot says (0 for a free partition)");
                }

                Assert.That(Point("nats_partition_ack_pending", heldPartition), Is.EqualTo(1), "delivered, in the handler, not acknowledged");
                Assert.That(Point("nats_partition_held", heldPartition), Is.EqualTo(1));
                Assert.That(Point("nats_partition_pending", heldPartition), Is.Zero);
                Assert.That(Point("nats_partition_acked", heldPartition), Is.Zero);
                Assert.That(source.Points.Single(x => x.Name == "nats_partition_acked" && Tag(x, "partition") == "0").Kind, Is.EqualTo(MetricPointKind.Counter));

                // The table view: one row per partition.
                Assert.That(
                    ConsoleReporter.Format(capture.Last),
                    Does.Contain($"  stage=reported member=r partition={heldPartition} owner=r  nats_partition_*: owned=1 epoch={snapshot.Partitions[heldPartition].Epoch} handovers=1 pending=0 ack_pending=1 redelivered=0 held=1 acked=0 takeover="));

                // The App.Metrics text view (what InfluxDB gets, in text): a gauge with the partition's tags.
                Assert.That(text.ToString(), Does.Contain("# MEASUREMENT: [engine] nats_partition_ack_pending\n# TAGS:\n                  stage = reported\n                 member = r\n              partition = "));
            });
        }
        finally
        {
            // Let the held item finish, so leaving does not wait out the drain timeout.
            gate.TrySetResult();
        }
    }
}
