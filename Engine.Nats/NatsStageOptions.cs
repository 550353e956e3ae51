using Engine.Routing;
using Engine.Stages;
using Microsoft.Extensions.Logging;

namespace Engine.Nats;

/// <summary>
/// How a distributed stage is laid out on NATS JetStream and how a member runs it: the stage's name and
/// partition count (identical for every member and writer), leases, acknowledgement and publish
/// timeouts, serialisation, and the shape of the local stage each owned partition feeds.
/// </summary>
/// <remarks>
/// The options are read once, when the writer or member is created; invalid values fail creation with
/// an <see cref="ArgumentException"/> whose message and <see cref="ArgumentException.ParamName"/> name
/// the option (<c>options.Partitions</c>, <c>options.LocalStage.FullMode</c>, …).
/// </remarks>
/// <typeparam name="T">The item type.</typeparam>
public sealed class NatsStageOptions<T>
{
    /// <summary>
    /// The distributed stage's name: the root of its subjects, streams, consumers and KV buckets.
    /// Required; letters, digits, <c>-</c> and <c>_</c> only, at most 32 characters.
    /// </summary>
    public string Name { get; set; } = "";

    /// <summary>
    /// The fixed number of partitions (one work-queue stream each). Every member and writer must use the
    /// same value: the first one stores it in the stage's config bucket and later ones with another value
    /// are refused with <see cref="NatsStageConfigurationException"/>. Choose many more than the members
    /// you expect (partitions are the unit of rebalancing). The default value is 64; from 1 to 1024.
    /// </summary>
    public int Partitions { get; set; } = NatsStageConstants.DefaultPartitions;

    /// <summary>
    /// Picks an item's key. Items with equal keys go to one partition (<c>Fnv1a(key) % Partitions</c>) and
    /// are handled one at a time, in order, across handovers. A <see cref="ItemKey.None"/> key spreads
    /// items over the partitions round-robin, with no order. Required.
    /// </summary>
    public Func<T, ItemKey>? KeySelector { get; set; }

    /// <summary>Turns an item into the message payload. The default (null) uses System.Text.Json.</summary>
    public Func<T, byte[]>? Serialize { get; set; }

    /// <summary>
    /// Turns a payload back into an item. The default (null) uses System.Text.Json. A payload it cannot
    /// read (it throws) is dead-lettered at once, without running the handler.
    /// </summary>
    public Func<ReadOnlyMemory<byte>, T>? Deserialize { get; set; }

    /// <summary>
    /// This member's name: unique among live members, used in the heartbeat and lease buckets and in
    /// logs. Letters, digits, <c>-</c>, <c>_</c> and <c>=</c>. The default (null) is
    /// <c>{machine}-{process id}-{random}</c>. Writers ignore it.
    /// </summary>
    public string? MemberName { get; set; }

    /// <summary>
    /// How long a partition lease and a member heartbeat live without renewal. A member renews every
    /// third of it and stops working a partition at once when a renewal fails, or when its own monotonic
    /// clock says the lease may have lapsed (the last renewal's send time plus this, less a fiftieth for
    /// clock drift and a tenth as a guard), whichever comes first. A crashed, frozen or cut-off member's
    /// partitions are taken over after at most about this long plus one reconcile (a third of it). The
    /// default value is 3 seconds; from 0.5 seconds to 5 minutes.
    /// </summary>
    public TimeSpan LeaseTtl { get; set; } = NatsStageConstants.DefaultLeaseTtl;

    /// <summary>
    /// The consumer's ack wait. Items waiting in the local stage get progress acks every third of it, so it
    /// bounds only how long a silent (crashed or partitioned) member holds messages inside one epoch. The
    /// default value is 30 seconds; at least 1 second.
    /// </summary>
    public TimeSpan AckWait { get; set; } = NatsStageConstants.DefaultAckWait;

    /// <summary>
    /// The most unacknowledged messages one partition's consumer hands out at a time: the local stage's
    /// in-flight bound per partition, and so the most duplicates a crash can cause per partition. The
    /// default value is 256; from 1 to 100,000.
    /// </summary>
    public int MaxAckPending { get; set; } = NatsStageConstants.DefaultMaxAckPending;

    /// <summary>
    /// How long a write waits for the server's PubAck (and a dead letter for the DLQ's) before it fails
    /// with <see cref="NatsStagePublishException"/>. The default value is 5 seconds; more than zero.
    /// </summary>
    public TimeSpan PublishTimeout { get; set; } = NatsStageConstants.DefaultPublishTimeout;

    /// <summary>
    /// How often creating the topology (streams, buckets, config check) is tried when the server does not
    /// answer, with a doubling back-off from half a second, before creation fails. The default value is 5;
    /// from 1 to 100.
    /// </summary>
    public int StartupAttempts { get; set; } = NatsStageConstants.DefaultStartupAttempts;

    /// <summary>Whether the streams keep messages in memory instead of files. The default value is false (file storage).</summary>
    public bool MemoryStorage { get; set; }

    /// <summary>Stream replicas (in a cluster). The default value is 1; from 1 to 5.</summary>
    public int Replicas { get; set; } = 1;

    /// <summary>
    /// The streams' duplicate window for <c>Nats-Msg-Id</c> (producer retries). The default value is
    /// 2 minutes; more than zero.
    /// </summary>
    public TimeSpan DuplicateWindow { get; set; } = NatsStageConstants.DefaultDuplicateWindow;

    /// <summary>
    /// The most messages a partition's stream holds; a write beyond it is rejected by the server and fails
    /// with <see cref="NatsStagePublishException"/> (discard-new). The default value is -1 (no limit).
    /// </summary>
    public long MaxMessagesPerPartition { get; set; } = -1;

    /// <summary>
    /// The shape of the local stage each owned partition feeds (one per partition and epoch): shards,
    /// capacity, workers, retries, dedupe, callbacks, metrics. Its <c>Name</c> and <c>KeySelector</c> are
    /// ignored (the partition's stage is named <c>{Name}.p{partition}</c> and keyed by
    /// <see cref="KeySelector"/>); its <c>FullMode</c> must stay <see cref="StageFullMode.Wait"/> (a drop would
    /// lose a message the server already considers delivered); dedupe merge is not supported. Its
    /// <c>OnDeadLetter</c> is still called for each dead-lettered item (usually once it is in the DLQ stream).
    /// <see cref="Engine.Dedupe.DedupeMode.Replace"/> also makes each partition stream keep only the latest
    /// message per key (JetStream's max-messages-per-subject of 1). The default value is one shard with one
    /// worker and no retries.
    /// </summary>
    public StageOptions<T> LocalStage { get; set; } = new() { Shards = 1 };

    /// <summary>How long a member leaving gracefully lets each partition finish what it holds. The default value is 30 seconds.</summary>
    public TimeSpan DrainTimeout { get; set; } = NatsStageConstants.DefaultDrainTimeout;

    /// <summary>
    /// How often a member refreshes the server figures it publishes through the <c>Engine</c> meter
    /// (each owned partition's pending, ack-pending and redelivered counts, and every lease's owner): one
    /// request per partition each time. The default value is 10 seconds; <see cref="TimeSpan.Zero"/>
    /// turns the refresh off (the snapshot method still reads them on demand).
    /// </summary>
    public TimeSpan ServerFiguresInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Where leases, handovers and errors are logged. The default (null) logs nothing.</summary>
    public ILogger? Logger { get; set; }
}
