using System.Diagnostics.Metrics;

namespace Engine.Nats;

/// <summary>
/// Publishes every live member's per-partition figures through a <see cref="Meter"/> named <c>Engine</c>
/// (the core library's meter name), so <c>AddMeter("Engine")</c> and <c>dotnet-counters</c> see them
/// beside the local stages' own figures. Instruments are observable: they read the member's cached
/// figures only when a listener collects, and never call the server from the collection callback
/// (the server figures are refreshed by the member every
/// <see cref="NatsStageOptions{T}.ServerFiguresInterval"/>).
/// </summary>
internal static class NatsStageMeter
{
    public const string Name = "Engine";

    private static readonly Lock Gate = new();
    private static readonly List<WeakReference<INatsMemberFigures>> Members = [];
    private static readonly Meter Meter = new(Name, typeof(NatsStageMeter).Assembly.GetName().Version?.ToString());

    static NatsStageMeter()
    {
        Meter.CreateObservableGauge("engine.nats.partitions.owned", () => Each(m => [new Measurement<long>(m.OwnedCount, Tags(m))]), "{partition}", "Partitions the member works now.");
        Meter.CreateObservableCounter("engine.nats.leases.lost", () => Each(m => [new Measurement<long>(m.LeasesLost, Tags(m))]), "{lease}", "Partitions the member stopped at once because a lease renewal failed.");
        Meter.CreateObservableGauge("engine.nats.partition.epoch", () => Partitions<long>(p => p.OwnedHere ? (long)p.Epoch : (long?)null), "{revision}", "The lease revision the member's ownership of the partition started with.");
        Meter.CreateObservableCounter("engine.nats.partition.handovers", () => Partitions<long>(p => p.Handovers), "{handover}", "Times the member took the partition over.");
        Meter.CreateObservableGauge("engine.nats.partition.pending", () => Partitions<long>(p => p.Pending >= 0 ? p.Pending : null), "{message}", "Messages not yet delivered to the partition's consumer (server figure).");
        Meter.CreateObservableGauge("engine.nats.partition.ack_pending", () => Partitions<long>(p => p.AckPending >= 0 ? p.AckPending : null), "{message}", "Messages delivered and not acknowledged (server figure).");
        Meter.CreateObservableCounter("engine.nats.partition.redelivered", () => Partitions<long>(p => p.Redelivered >= 0 ? p.Redelivered : null), "{message}", "Messages the partition's current consumer delivered more than once (server figure).");
        Meter.CreateObservableGauge("engine.nats.partition.held", () => Partitions<long>(p => p.OwnedHere ? p.HeldLocally : (long?)null), "{message}", "Messages held by the member's local stage and not settled yet.");
        Meter.CreateObservableCounter("engine.nats.partition.acked", () => Partitions<long>(p => p.Acked), "{message}", "Messages the member acknowledged for the partition.");
        Meter.CreateObservableGauge("engine.nats.partition.takeover", () => Partitions<double>(p => p.LastTakeover?.TotalSeconds), "s", "How long the member waited for the partition the last time it took it over.");
    }

    public static void Register(INatsMemberFigures member)
    {
        lock (Gate)
        {
            Members.Add(new WeakReference<INatsMemberFigures>(member));
        }
    }

    public static void Unregister(INatsMemberFigures member)
    {
        lock (Gate)
        {
            Members.RemoveAll(w => !w.TryGetTarget(out INatsMemberFigures? m) || ReferenceEquals(m, member));
        }
    }

    private static KeyValuePair<string, object?>[] Tags(INatsMemberFigures member) =>
        [new("stage", member.StageName), new("member", member.MemberName)];

    private static List<INatsMemberFigures> Live()
    {
        lock (Gate)
        {
            var live = new List<INatsMemberFigures>(Members.Count);
            foreach (WeakReference<INatsMemberFigures> reference in Members)
            {
                if (reference.TryGetTarget(out INatsMemberFigures? member))
                {
                    live.Add(member);
                }
            }

            return live;
        }
    }

    private static IEnumerable<Measurement<long>> Each(Func<INatsMemberFigures, IEnumerable<Measurement<long>>> read) => Live().SelectMany(read);

    private static IEnumerable<Measurement<T>> Partitions<T>(Func<NatsPartitionSnapshot, T?> read)
        where T : struct
    {
        foreach (INatsMemberFigures member in Live())
        {
            foreach (NatsPartitionSnapshot partition in member.CachedPartitions())
            {
                if (read(partition) is { } value)
                {
                    yield return new Measurement<T>(value, [new("stage", member.StageName), new("member", member.MemberName), new("partition", partition.Partition)]);
                }
            }
        }
    }
}
