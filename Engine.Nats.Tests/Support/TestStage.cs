using Engine.Retry;
using Engine.Stages;

namespace Engine.Nats.Tests.Support;

/// <summary>Options with short leases for tests, and the item stream they write.</summary>
internal static class TestStage
{
    public static readonly TimeSpan LeaseTtl = TimeSpan.FromMilliseconds(1500);

    /// <summary>
    /// docs/scale-out.md's takeover bound after a member dies, freezes or is cut off (one TTL for its
    /// heartbeat and leases to stand unrenewed, plus one reconcile, a third of it), with 2 s of slack for
    /// the server, several processes and other builds sharing two cores.
    /// </summary>
    public static readonly TimeSpan TakeoverBound = LeaseTtl + (LeaseTtl / 3) + TimeSpan.FromSeconds(2);

    public static NatsStageOptions<TestItem> Options(string name, int partitions = 8, string? member = null) => new()
    {
        Name = name,
        Partitions = partitions,
        KeySelector = item => item.Key,
        MemberName = member,
        LeaseTtl = LeaseTtl,
        MaxAckPending = 64,
        PublishTimeout = TimeSpan.FromSeconds(5),
        LocalStage = new StageOptions<TestItem>
        {
            Shards = 1,
            WorkersPerShard = 4,
            Retry = new RetryOptions { MaxAttempts = 3, BaseDelay = TimeSpan.FromMilliseconds(5), MaxDelay = TimeSpan.FromMilliseconds(20), IsTransient = e => e is TimeoutException },
        },
    };

    /// <summary><paramref name="count"/> items over <paramref name="keys"/> keys, each key's values 1, 2, 3, … in order.</summary>
    public static List<TestItem> Items(int count, int keys, string prefix = "k")
    {
        var next = new long[keys];
        var items = new List<TestItem>(count);
        for (int i = 0; i < count; i++)
        {
            int k = i % keys;
            items.Add(new TestItem(prefix + k, ++next[k]));
        }

        return items;
    }

    public static Dictionary<string, long> Expected(IEnumerable<TestItem> items) =>
        items.GroupBy(i => i.Key).ToDictionary(g => g.Key, g => g.Max(i => i.Value), StringComparer.Ordinal);
}
