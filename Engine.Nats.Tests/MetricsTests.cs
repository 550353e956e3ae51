using System.Diagnostics.Metrics;
using Engine.Nats.Tests.Support;
using NATS.Client.Core;

namespace Engine.Nats.Tests;

/// <summary>Per-partition figures: the snapshot (server figures read on demand) and the Engine meter.</summary>
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
}
