namespace Engine.Nats;

/// <summary>What <see cref="NatsStageMeter"/> reads from a member, without knowing its item type.</summary>
internal interface INatsMemberFigures
{
    string StageName { get; }

    string MemberName { get; }

    long OwnedCount { get; }

    long LeasesLost { get; }

    /// <summary>Every partition's figures from the member's cache (no server call); server figures are as of the last refresh.</summary>
    IReadOnlyList<NatsPartitionSnapshot> CachedPartitions();
}
