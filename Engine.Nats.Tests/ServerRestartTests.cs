using Engine.Nats.Tests.Support;
using NATS.Client.Core;

namespace Engine.Nats.Tests;

/// <summary>A server crash with a file store loses nothing that was acknowledged; writes while it is down fail clearly.</summary>
public class ServerRestartTests
{
    [Test]
    public async Task Acknowledged_writes_survive_a_server_kill_and_writes_while_it_is_down_fail_instead_of_hanging()
    {
        await using NatsServer server = await NatsServer.StartNewAsync();
        await using NatsConnection connection = server.Connect();
        NatsStageOptions<TestItem> options = TestStage.Options("restart", partitions: 4);
        options.PublishTimeout = TimeSpan.FromSeconds(1);
        List<TestItem> items = TestStage.Items(1000, 20);
        NatsStageWriter<TestItem> writer = await NatsStage.CreateWriterAsync(connection, options);
        await writer.WriteManyAsync(items.Take(500));

        await server.KillAsync();
        var down = Assert.ThrowsAsync<NatsStagePublishException>(async () => await writer.WriteAsync(new TestItem("down", 1)));
        Assert.That(down!.Message, Does.Contain("No PubAck").Or.Contain("failed"));

        await server.StartAsync();
        options.PublishTimeout = TimeSpan.FromSeconds(10);
        writer = await NatsStage.CreateWriterAsync(connection, options);
        await writer.WriteManyAsync(items.Skip(500));

        var log = new KeyedLog();
        var all = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using NatsStageMember<TestItem> member = await NatsStage.StartMemberAsync<TestItem>(connection, options, (item, _, _) =>
        {
            log.Add(item.Key, item.Value);
            if (log.Distinct == items.Count + (item.Key == "down" ? 1 : 0) || log.Distinct >= items.Count)
            {
                all.TrySetResult();
            }

            return ValueTask.CompletedTask;
        });
        await all.Task.Within();
        await member.LeaveAsync().Within();

        Assert.That(log.Lost(TestStage.Expected(items)), Is.Zero, "nothing acknowledged before the kill was lost");
        Assert.That(log.OrderViolations().Where(v => !v.StartsWith("down", StringComparison.Ordinal)), Is.Empty);
    }

    [Test]
    public async Task A_running_member_stops_its_partitions_when_the_server_dies_and_takes_them_again_after_the_restart()
    {
        await using NatsServer server = await NatsServer.StartNewAsync();
        await using NatsConnection connection = server.Connect();
        NatsStageOptions<TestItem> options = TestStage.Options("comeback", partitions: 4, member: "m");
        List<TestItem> items = TestStage.Items(600, 20);
        var log = new KeyedLog();
        var firstHalf = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var all = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using NatsStageMember<TestItem> member = await NatsStage.StartMemberAsync<TestItem>(connection, options, (item, _, _) =>
        {
            log.Add(item.Key, item.Value);
            long distinct = log.Distinct;
            if (distinct >= 300)
            {
                firstHalf.TrySetResult();
            }

            if (distinct == items.Count)
            {
                all.TrySetResult();
            }

            return ValueTask.CompletedTask;
        });
        NatsStageWriter<TestItem> writer = await NatsStage.CreateWriterAsync(connection, options);
        await writer.WriteManyAsync(items.Take(300));
        await firstHalf.Task.Within();
        Task<NatsStageSnapshot> Snapshot() => member.GetSnapshotAsync();

        await server.KillAsync();
        await TestWait.UntilAsync(() => member.OwnedPartitions.Count == 0, h => member.OwnershipChanged += h, h => member.OwnershipChanged -= h, "m stops every partition once its renewals fail");
        await server.StartAsync();
        await TestWait.UntilAsync(() => member.OwnedPartitions.Count == 4, h => member.OwnershipChanged += h, h => member.OwnershipChanged -= h, "m takes its partitions again after the restart");
        await writer.WriteManyAsync(items.Skip(300));
        await all.Task.Within();
        NatsStageSnapshot snapshot = await Snapshot();
        await member.LeaveAsync().Within();

        Assert.That(log.Lost(TestStage.Expected(items)), Is.Zero);
        Assert.That(log.OrderViolations(), Is.Empty);
        Assert.That(snapshot.LeasesLost, Is.EqualTo(4), "each partition was stopped once");
        Assert.That(snapshot.Partitions.Select(p => p.Handovers), Is.All.EqualTo(2));
    }
}
