using System.Globalization;
using Engine.Reporting;

namespace Engine.Nats;

/// <summary>
/// Writes a member's figures as reporting points (what <see cref="NatsStageMember{T}"/> contributes as
/// an <see cref="IMetricsSource"/>): the same cached figures <see cref="NatsStageMeter"/> publishes,
/// so writing a report never calls the server. Names are the meter's instrument names in App.Metrics'
/// style (<c>engine.nats.partition.pending</c> is <c>nats_partition_pending</c>, written
/// <c>engine__nats_partition_pending</c>); docs/scale-out.md lists them.
/// </summary>
internal static class NatsMemberPoints
{
    public const string PartitionsOwned = "nats_partitions_owned";
    public const string LeasesLost = "nats_leases_lost";
    public const string Owned = "nats_partition_owned";
    public const string Epoch = "nats_partition_epoch";
    public const string Handovers = "nats_partition_handovers";
    public const string Pending = "nats_partition_pending";
    public const string AckPending = "nats_partition_ack_pending";
    public const string Redelivered = "nats_partition_redelivered";
    public const string Held = "nats_partition_held";
    public const string Acked = "nats_partition_acked";
    public const string Takeover = "nats_partition_takeover";

    /// <summary>The source name a member reports under: <c>nats:{stage}:{member}</c>.</summary>
    public static string SourceName(INatsMemberFigures member) => $"nats:{member.StageName}:{member.MemberName}";

    /// <summary>
    /// The member's two points (tags <c>stage</c>, <c>member</c>), then per partition, in order (tags
    /// <c>stage</c>, <c>member</c>, <c>partition</c>, <c>owner</c>): owned, epoch (owned here), handovers,
    /// pending, ack_pending and redelivered (owned here and read from the server), held (owned here),
    /// acked, takeover (once taken over). Figures the meter leaves out are left out here too.
    /// </summary>
    public static void Write(INatsMemberFigures member, MetricPointWriter points)
    {
        KeyValuePair<string, string?>[] memberTags = [new("stage", member.StageName), new("member", member.MemberName)];
        points.Gauge(PartitionsOwned, "partitions", member.OwnedCount, memberTags);
        points.Counter(LeasesLost, "leases", member.LeasesLost, memberTags);
        foreach (NatsPartitionSnapshot p in member.CachedPartitions())
        {
            // One tag list per partition, shared by its points. The owner is the lease holder as last read
            // (left out when none or unknown); for a partition owned here it is this member, whatever the
            // cache, which may predate the takeover.
            KeyValuePair<string, string?>[] tags =
            [
                memberTags[0],
                memberTags[1],
                new("partition", p.Partition.ToString(CultureInfo.InvariantCulture)),
                new("owner", p.OwnedHere ? member.MemberName : p.Owner),
            ];
            points.Gauge(Owned, "partitions", p.OwnedHere ? 1 : 0, tags);
            if (p.OwnedHere)
            {
                points.Gauge(Epoch, "revision", p.Epoch, tags);
            }

            points.Counter(Handovers, "handovers", p.Handovers, tags);
            if (p.Pending >= 0)
            {
                points.Gauge(Pending, "messages", p.Pending, tags);
            }

            if (p.AckPending >= 0)
            {
                points.Gauge(AckPending, "messages", p.AckPending, tags);
            }

            if (p.Redelivered >= 0)
            {
                points.Counter(Redelivered, "messages", p.Redelivered, tags);
            }

            if (p.OwnedHere)
            {
                points.Gauge(Held, "messages", p.HeldLocally, tags);
            }

            points.Counter(Acked, "messages", p.Acked, tags);
            if (p.LastTakeover is { } takeover)
            {
                points.Gauge(Takeover, "s", takeover.TotalSeconds, tags);
            }
        }
    }
}
