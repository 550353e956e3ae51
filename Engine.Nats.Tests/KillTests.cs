using System.Diagnostics;
using System.Globalization;
using System.Text;
using Engine.Nats.Tests.Support;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;

namespace Engine.Nats.Tests;

/// <summary>
/// kill -9 of a member process under load, with items in flight and retries pending: nothing is lost,
/// per-key order holds, duplicates stay within what was in flight, and the survivor takes over within
/// docs/scale-out.md's bound (one TTL plus a reconcile, with slack for a loaded machine).
/// </summary>
public class KillTests
{
    private const string Stage = "kill";
    private const int Partitions = 8;
    private const int MaxAckPending = 64;
    private NatsServer _server = null!;

    [OneTimeSetUp]
    public async Task StartServer() => _server = await NatsServer.StartNewAsync();

    [OneTimeTearDown]
    public async Task StopServer() => await _server.DisposeAsync();

    [Test]
    public async Task A_killed_member_loses_nothing_and_the_survivor_takes_its_partitions_in_order()
    {
        await using NatsConnection connection = _server.Connect("survivor");
        await using NatsConnection observer = _server.Connect("observer");
        var js = new NatsJSContext(connection);
        await js.CreateOrUpdateStreamAsync(new StreamConfig(Stage + "_RESULTS", ["results." + Stage]));
        List<TestItem> items = TestStage.Items(6000, 100);
        var expected = TestStage.Expected(items);

        // Results arrive live on a core subscription too, to know when everything has run; the check
        // itself reads the results stream, whose order is the processing order.
        var seen = new HashSet<(string, long)>();
        var everything = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using INatsSub<byte[]> live = await observer.SubscribeCoreAsync<byte[]>("results." + Stage, opts: new NatsSubOpts { ChannelOpts = new NatsSubChannelOpts { Capacity = 100_000 } });
        Task watching = Task.Run(async () =>
        {
            await foreach (NatsMsg<byte[]> message in live.Msgs.ReadAllAsync())
            {
                string[] parts = Encoding.UTF8.GetString(message.Data!).Split(' ');
                seen.Add((parts[0], long.Parse(parts[1], CultureInfo.InvariantCulture)));
                if (seen.Count == items.Count)
                {
                    everything.TrySetResult();
                    return;
                }
            }
        });
        await observer.PingAsync();

        await using MemberProcess a = await MemberProcess.StartAsync(
            "--url", _server.Url, "--stage", Stage, "--partitions", Partitions.ToString(CultureInfo.InvariantCulture), "--member", "a",
            "--lease-ms", ((int)TestStage.LeaseTtl.TotalMilliseconds).ToString(CultureInfo.InvariantCulture),
            "--work-ms", "1", "--fail-every", "7", "--results", "--report", "50", "--max-ack-pending", MaxAckPending.ToString(CultureInfo.InvariantCulture));
        await a.UntilAsync(m => m.Owned.Split(',', StringSplitOptions.RemoveEmptyEntries).Length == Partitions, "a owns every partition");

        NatsStageOptions<TestItem> options = TestStage.Options(Stage, Partitions, member: "b");
        options.MaxAckPending = MaxAckPending;
        await using NatsStageMember<TestItem> b = await NatsStage.StartMemberAsync<TestItem>(connection, options, async (item, context, ct) =>
        {
            if (item.Value % 7 == 0 && context.Engine.Attempt == 1)
            {
                throw new TimeoutException("simulated transient failure");
            }

            (await js.PublishAsync("results." + Stage, Encoding.UTF8.GetBytes($"{item.Key} {item.Value} b {context.FencingToken}"), cancellationToken: ct)).EnsureSuccess();
        });
        await a.UntilAsync(m => m.Owned.Split(',', StringSplitOptions.RemoveEmptyEntries).Length == Partitions / 2, "a hands half its partitions to b");

        NatsStageWriter<TestItem> writer = await NatsStage.CreateWriterAsync(connection, TestStage.Options(Stage, Partitions));
        Task writing = writer.WriteManyAsync(items, maxInFlight: 256).AsTask();
        await a.UntilAsync(m => m.Count >= 1000, "a has processed 1000 items");

        NatsStageSnapshot before = await b.GetSnapshotAsync();
        await a.KillAsync();
        var sinceKill = Stopwatch.StartNew();
        await TestWait.UntilAsync(() => b.OwnedPartitions.Count == Partitions, h => b.OwnershipChanged += h, h => b.OwnershipChanged -= h, "b owns every partition after the kill");
        TimeSpan takeover = sinceKill.Elapsed;
        await writing.Within();
        await everything.Task.Within();
        await b.LeaveAsync().Within();
        await watching.Within();

        // The whole record, in processing order, from the results stream.
        var log = new KeyedLog();
        var byMember = new Dictionary<string, long>(StringComparer.Ordinal);
        long stored = (await js.GetStreamAsync(Stage + "_RESULTS")).Info.State.Messages;
        INatsJSConsumer reader = await js.CreateOrUpdateConsumerAsync(Stage + "_RESULTS", new ConsumerConfig { AckPolicy = ConsumerConfigAckPolicy.None });
        long read = 0;
        await foreach (NatsJSMsg<byte[]> message in reader.ConsumeAsync<byte[]>())
        {
            string[] parts = Encoding.UTF8.GetString(message.Data!).Split(' ');
            log.Add(parts[0], long.Parse(parts[1], CultureInfo.InvariantCulture));
            byMember[parts[2]] = byMember.GetValueOrDefault(parts[2]) + 1;
            if (++read == stored)
            {
                break;
            }
        }

        int partitionsOfA = Partitions - before.Partitions.Count(p => p.OwnedHere);
        TestContext.Out.WriteLine($"takeover {takeover.TotalMilliseconds:F0} ms (lease TTL {TestStage.LeaseTtl.TotalMilliseconds} ms); results {log.Total}, distinct {log.Distinct}, duplicates {log.Duplicates}; by member: {string.Join(", ", byMember.Select(m => $"{m.Key}={m.Value}"))}");
        Assert.That(log.Lost(expected), Is.Zero, "lost");
        Assert.That(log.OrderViolations(), Is.Empty, "per-key order");
        Assert.That(log.Duplicates, Is.LessThanOrEqualTo(partitionsOfA * MaxAckPending), "duplicates are bounded by what a held unacknowledged");
        Assert.That(byMember.GetValueOrDefault("a"), Is.GreaterThanOrEqualTo(1000));
        Assert.That(takeover, Is.LessThan(TestStage.TakeoverBound), "takeover within the documented bound (TTL + TTL/3, plus slack)");
    }
}
