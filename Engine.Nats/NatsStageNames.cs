using System.Globalization;

namespace Engine.Nats;

/// <summary>The names of everything a distributed stage keeps on the server, derived from its name alone.</summary>
internal sealed class NatsStageNames
{
    public NatsStageNames(string stage)
    {
        Stage = stage;
        DeadLetterStream = stage + "_DLQ";
        MembersBucket = stage + "-members";
        OwnersBucket = stage + "-owners";
        ConfigBucket = stage + "-config";
    }

    public string Stage { get; }

    /// <summary>Dead letters: subjects <c>dlq.{stage}.{partition}.{key token}</c>.</summary>
    public string DeadLetterStream { get; }

    /// <summary>Member heartbeats (key = member name), expiring after the lease TTL.</summary>
    public string MembersBucket { get; }

    /// <summary>Partition leases (key = <c>p{partition}</c>, value = owner), expiring after the lease TTL.</summary>
    public string OwnersBucket { get; }

    /// <summary>The layout every member and writer must share.</summary>
    public string ConfigBucket { get; }

    public string PartitionStream(int partition) => string.Create(CultureInfo.InvariantCulture, $"{Stage}_P{partition}");

    public string PartitionFilter(int partition) => string.Create(CultureInfo.InvariantCulture, $"{Stage}.{partition}.*");

    public string Subject(int partition, string token) => string.Create(CultureInfo.InvariantCulture, $"{Stage}.{partition}.{token}");

    public string DeadLetterSubject(int partition, string token) => string.Create(CultureInfo.InvariantCulture, $"dlq.{Stage}.{partition}.{token}");

    public string DeadLetterFilter => $"dlq.{Stage}.>";

    /// <summary>The config bucket's key for how far earlier epochs of a partition delivered (see <see cref="PartitionWorker{T}"/>).</summary>
    public static string DeliveredMarkKey(int partition) => string.Create(CultureInfo.InvariantCulture, $"delivered-p{partition}");

    public static string LeaseKey(int partition) => string.Create(CultureInfo.InvariantCulture, $"p{partition}");

    /// <summary>The prefix of every epoch consumer of a partition: <c>p{partition}-e</c>.</summary>
    public static string ConsumerPrefix(int partition) => string.Create(CultureInfo.InvariantCulture, $"p{partition}-e");

    public static string ConsumerName(int partition, ulong epoch) => string.Create(CultureInfo.InvariantCulture, $"p{partition}-e{epoch}");
}
