using System.Text;
using Engine.Nats.Tests.Support;
using Engine.Routing;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;

namespace Engine.Nats.Tests;

/// <summary>Writes, consumption, acks, dead letters, rejected publishes and layout checks against a real server.</summary>
public class DeliveryTests
{
    private NatsServer _server = null!;
    private NatsConnection _connection = null!;

    [OneTimeSetUp]
    public async Task StartServer()
    {
        _server = await NatsServer.StartNewAsync();
        _connection = _server.Connect();
    }

    [OneTimeTearDown]
    public async Task StopServer()
    {
        await _connection.DisposeAsync();
        await _server.DisposeAsync();
    }

    [Test]
    public async Task Every_written_item_is_handled_in_key_order_and_acknowledged_so_the_streams_end_empty()
    {
        NatsStageOptions<TestItem> options = TestStage.Options("e2e");
        List<TestItem> items = TestStage.Items(2000, 50);
        var log = new KeyedLog();
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        NatsStageWriter<TestItem> writer = await NatsStage.CreateWriterAsync(_connection, options);
        long written = await writer.WriteManyAsync(items, maxInFlight: 128);
        await using NatsStageMember<TestItem> member = await NatsStage.StartMemberAsync<TestItem>(_connection, options, (item, context, _) =>
        {
            Assert.That(context.Partition, Is.EqualTo(NatsStage.PartitionOf(item.Key, options.Partitions)));
            Assert.That(context.Sequence, Is.GreaterThan(0UL));
            log.Add(item.Key, item.Value);
            if (log.Total == items.Count)
            {
                done.TrySetResult();
            }

            return ValueTask.CompletedTask;
        });

        await done.Task.Within();
        await member.LeaveAsync().Within();

        Assert.That(written, Is.EqualTo(items.Count));
        Assert.That(log.Lost(TestStage.Expected(items)), Is.Zero, "lost");
        Assert.That(log.Duplicates, Is.Zero, "duplicates");
        Assert.That(log.OrderViolations(), Is.Empty);
        var js = new NatsJSContext(_connection);
        long left = 0;
        for (int p = 0; p < options.Partitions; p++)
        {
            left += (await js.GetStreamAsync($"e2e_P{p}")).Info.State.Messages;
        }

        Assert.That(left, Is.Zero, "a work-queue stream drops a message once it is acknowledged");
    }

    [Test]
    public async Task A_permanent_failure_goes_to_the_dlq_stream_with_error_and_attempts_and_is_not_redelivered()
    {
        NatsStageOptions<TestItem> options = TestStage.Options("dlq", partitions: 2);
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        long handled = 0;
        NatsStageWriter<TestItem> writer = await NatsStage.CreateWriterAsync(_connection, options);
        await using NatsStageMember<TestItem> member = await NatsStage.StartMemberAsync<TestItem>(_connection, options, (item, context, _) =>
        {
            if (item.Value == 2)
            {
                // Transient first (retried locally), then permanent: two attempts, then the DLQ.
                throw context.Engine.Attempt == 1 ? new TimeoutException("flaky") : new InvalidOperationException("bad item\nsecond line");
            }

            if (Interlocked.Increment(ref handled) == 2)
            {
                done.TrySetResult();
            }

            return ValueTask.CompletedTask;
        });
        await writer.WriteAsync(new TestItem("x", 1));
        await writer.WriteAsync(new TestItem("x", 2));
        await writer.WriteAsync(new TestItem("x", 3));
        await done.Task.Within();
        await member.LeaveAsync().Within();

        var js = new NatsJSContext(_connection);
        INatsJSConsumer reader = await js.CreateOrUpdateConsumerAsync("dlq_DLQ", new ConsumerConfig { AckPolicy = ConsumerConfigAckPolicy.None });
        INatsJSMsg<byte[]>? dead = await reader.NextAsync<byte[]>();
        Assert.That(dead, Is.Not.Null);
        Assert.That(Encoding.UTF8.GetString(dead!.Data!), Does.Contain("\"Value\":2"));
        Assert.That(((NatsJSMsg<byte[]>)dead).Headers!["Engine-Attempts"].ToString(), Is.EqualTo("2"));
        Assert.That(((NatsJSMsg<byte[]>)dead).Headers!["Engine-Error"].ToString(), Does.Contain("InvalidOperationException: bad item second line"));
        Assert.That(dead.Subject, Is.EqualTo($"dlq.dlq.{NatsStage.PartitionOf("x", 2)}.x"));
        int p = NatsStage.PartitionOf("x", 2);
        Assert.That((await js.GetStreamAsync($"dlq_P{p}")).Info.State.Messages, Is.Zero, "terminated, not redelivered");
        Assert.That(Interlocked.Read(ref handled), Is.EqualTo(2));
    }

    [Test]
    public async Task A_publish_the_server_rejects_surfaces_as_an_error_not_a_success()
    {
        NatsStageOptions<TestItem> options = TestStage.Options("full", partitions: 1);
        options.MaxMessagesPerPartition = 2;
        NatsStageWriter<TestItem> writer = await NatsStage.CreateWriterAsync(_connection, options);
        await writer.WriteAsync(new TestItem("k", 1));
        await writer.WriteAsync(new TestItem("k", 2));

        var error = Assert.ThrowsAsync<NatsStagePublishException>(async () => await writer.WriteAsync(new TestItem("k", 3)));

        Assert.That(error!.ErrorCode, Is.Not.Zero);
        Assert.That(error.Message, Does.Contain("rejected"));
        Assert.That(error.Subject, Is.EqualTo("full.0.k"));
    }

    [Test]
    public async Task A_write_with_no_stream_behind_it_fails_with_a_clear_error()
    {
        NatsStageOptions<TestItem> options = TestStage.Options("gone", partitions: 1);
        NatsStageWriter<TestItem> writer = await NatsStage.CreateWriterAsync(_connection, options);
        await new NatsJSContext(_connection).DeleteStreamAsync("gone_P0");

        var error = Assert.ThrowsAsync<NatsStagePublishException>(async () => await writer.WriteAsync(new TestItem("k", 1)));

        Assert.That(error!.Message, Does.Contain("gone.0.k"));
    }

    [Test]
    public async Task A_member_with_another_partition_count_is_refused_and_the_error_names_it()
    {
        await NatsStage.CreateWriterAsync(_connection, TestStage.Options("mismatch", partitions: 8));

        var error = Assert.ThrowsAsync<NatsStageConfigurationException>(() =>
            NatsStage.StartMemberAsync<TestItem>(_connection, TestStage.Options("mismatch", partitions: 16), (_, _, _) => ValueTask.CompletedTask));

        Assert.That(error!.Message, Does.Contain("partitions is 16 here but 8"));
        Assert.That(error.Message, Does.Contain("options.Partitions"));
    }

    [Test]
    public async Task Replace_dedupe_keeps_only_the_latest_message_per_key_in_the_stream()
    {
        NatsStageOptions<TestItem> options = TestStage.Options("latest", partitions: 2);
        options.LocalStage.Dedupe = new Engine.Dedupe.DedupeOptions<TestItem> { Mode = Engine.Dedupe.DedupeMode.Replace };
        NatsStageWriter<TestItem> writer = await NatsStage.CreateWriterAsync(_connection, options);
        foreach (TestItem item in TestStage.Items(100, 10))
        {
            await writer.WriteAsync(item);
        }

        var js = new NatsJSContext(_connection);
        long stored = (await js.GetStreamAsync("latest_P0")).Info.State.Messages + (await js.GetStreamAsync("latest_P1")).Info.State.Messages;
        Assert.That(stored, Is.EqualTo(10L));
    }

    [Test]
    public async Task Keys_of_every_kind_and_unkeyed_items_travel_through_the_server_to_their_partition()
    {
        static ItemKey Key(TestItem item) => item.Key switch
        {
            "" => ItemKey.None,
            ['i', ':', .. string rest] => ItemKey.FromInt64(long.Parse(rest, System.Globalization.CultureInfo.InvariantCulture)),
            ['g', ':', .. string rest] => ItemKey.FromGuid(Guid.Parse(rest)),
            ['b', ':', .. string rest] => ItemKey.FromBytes(Convert.FromHexString(rest)),
            _ => ItemKey.FromString(item.Key),
        };
        NatsStageOptions<TestItem> options = TestStage.Options("kinds", partitions: 4);
        options.KeySelector = Key;
        string[] keys = ["i:42", "i:-7", "g:6f9619ff-8b86-d011-b42d-00c04fc964ff", "b:0102FF", "a.b c", "*>", "~x", "naïve-鍵", "plain"];
        var items = new List<TestItem>();
        for (int v = 1; v <= 20; v++)
        {
            items.AddRange(keys.Select(k => new TestItem(k, v)));
            items.Add(new TestItem("", v));
        }

        var log = new KeyedLog();
        long unkeyed = 0;
        var all = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var wrongPartition = new List<string>();
        await using NatsStageMember<TestItem> member = await NatsStage.StartMemberAsync<TestItem>(_connection, options, (item, context, _) =>
        {
            ItemKey key = Key(item);
            if (key.IsNone)
            {
                Interlocked.Increment(ref unkeyed);
            }
            else
            {
                if (context.Partition != NatsStage.PartitionOf(key, 4))
                {
                    lock (wrongPartition)
                    {
                        wrongPartition.Add(item.Key);
                    }
                }

                log.Add(item.Key, item.Value);
            }

            if (log.Total + Interlocked.Read(ref unkeyed) == items.Count)
            {
                all.TrySetResult();
            }

            return ValueTask.CompletedTask;
        });
        NatsStageWriter<TestItem> writer = await NatsStage.CreateWriterAsync(_connection, options);
        await writer.WriteManyAsync(items, maxInFlight: 64);
        await all.Task.Within();
        await member.LeaveAsync().Within();

        Assert.That(wrongPartition, Is.Empty);
        Assert.That(log.Lost(TestStage.Expected(items.Where(i => i.Key.Length > 0))), Is.Zero);
        Assert.That(log.OrderViolations(), Is.Empty);
        Assert.That(Interlocked.Read(ref unkeyed), Is.EqualTo(20));
    }
}
