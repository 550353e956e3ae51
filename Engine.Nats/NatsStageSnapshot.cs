namespace Engine.Nats;

/// <summary>A distributed stage's figures as seen by one member: membership and every partition.</summary>
public sealed class NatsStageSnapshot
{
    /// <summary>The distributed stage's name.</summary>
    public string Stage { get; init; } = "";

    /// <summary>The member that took the snapshot.</summary>
    public string Member { get; init; } = "";

    /// <summary>The live members as the member last read them, sorted.</summary>
    public IReadOnlyList<string> LiveMembers { get; init; } = [];

    /// <summary>Every partition, in order.</summary>
    public IReadOnlyList<NatsPartitionSnapshot> Partitions { get; init; } = [];

    /// <summary>Partitions this member stopped at once because a lease renewal failed.</summary>
    public long LeasesLost { get; init; }
}
