using Engine.Routing;

namespace Engine.Tests.Routing;

/// <summary>The router's precomputed modulo is exactly the unsigned modulo the docs and NATS' <c>partition()</c> promise.</summary>
public class ShardRouterTests
{
    [Test]
    public void The_shard_is_the_hash_modulo_the_shard_count_for_every_count_and_edge_hash()
    {
        var random = new Random(20261202);
        uint[] edges = [0, 1, 2, 3, 255, 256, 65535, 65536, int.MaxValue, (uint)int.MaxValue + 1, uint.MaxValue - 1, uint.MaxValue];
        foreach (int shards in Enumerable.Range(1, 300).Concat([1023, 1024, 1025, 4096, 65_521, 1_000_003]))
        {
            var router = new ShardRouter(shards);
            foreach (uint hash in edges.Concat(Enumerable.Range(0, 200).Select(_ => (uint)random.NextInt64(0, 1L << 32))))
            {
                Assert.That(router.ShardOf(hash), Is.EqualTo((int)(hash % (uint)shards)), $"hash {hash}, {shards} shards");
            }
        }
    }
}
