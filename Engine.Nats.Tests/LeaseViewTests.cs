using System.Diagnostics;
using Engine.Nats.Tests.Support;
using NATS.Client.Core;

namespace Engine.Nats.Tests;

/// <summary>What a handler sees of its lease: the deadline, a token cancelled when the lease is lost, and whether the item may have run before (across epochs too).</summary>
public class LeaseViewTests
{
    [Test]
    public async Task A_handler_sees_its_lease_its_token_is_cancelled_when_the_lease_is_lost_and_the_next_epoch_flags_the_item_as_redelivered()
    {
        await using NatsServer server = await NatsServer.StartNewAsync();
        await using NatsConnection connection = server.Connect();
        NatsStageOptions<TestItem> options = TestStage.Options("leaseview", partitions: 1, member: "m");
        var first = new TaskCompletionSource<(NatsItemContext Context, TimeSpan Remaining)>(TaskCreationOptions.RunContinuationsAsynchronously);
        var cancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var second = new TaskCompletionSource<NatsItemContext>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using NatsStageMember<TestItem> member = await NatsStage.StartMemberAsync<TestItem>(connection, options, async (item, context, ct) =>
        {
            if (first.TrySetResult((context, context.LeaseRemaining)))
            {
                try
                {
                    // Holds the item, unacknowledged, until the lease is lost.
                    await Task.Delay(Timeout.Infinite, ct);
                }
                catch (OperationCanceledException) when (ct.IsCancellationRequested)
                {
                    cancelled.TrySetResult();
                    throw;
                }
            }

            second.TrySetResult(context);
        });
        NatsStageWriter<TestItem> writer = await NatsStage.CreateWriterAsync(connection, options);
        await writer.WriteAsync(new TestItem("held", 1));
        (NatsItemContext run1, TimeSpan remaining) = await first.Task.Within();

        // The server dies under the running handler: the renewal fails, the partition is fenced, and the
        // handler's token is cancelled. The restarted server (same store) still holds the message, and the
        // member's next epoch runs it again, knowing it may have run before.
        await server.KillAsync();
        await cancelled.Task.Within();
        await server.StartAsync();
        NatsItemContext run2 = await second.Task.Within();
        await member.LeaveAsync().Within();

        Assert.Multiple(() =>
        {
            Assert.That(remaining, Is.GreaterThan(TimeSpan.Zero).And.LessThanOrEqualTo(TestStage.LeaseTtl), "the lease was held when the run started, for at most a TTL");
            Assert.That(run1.LeaseDeadline, Is.LessThan(Stopwatch.GetTimestamp()), "that deadline has passed by now (no renewal since)");
            Assert.That(run1.Redelivered, Is.False, "the first delivery never ran before");
            Assert.That(run2.FencingToken, Is.GreaterThan(run1.FencingToken), "a new epoch");
            Assert.That(run2.Deliveries, Is.EqualTo(1UL), "the new epoch's consumer counts afresh");
            Assert.That(run2.Redelivered, Is.True, "the earlier epoch delivered it and nobody acknowledged it");
            Assert.That(run2.Sequence, Is.EqualTo(run1.Sequence));
        });
    }
}
