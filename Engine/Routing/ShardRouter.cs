using System.Diagnostics;

namespace Engine.Routing;

/// <summary>
/// Maps a key's hash to a shard: unsigned modulo, as the reference systems do (NATS' <c>partition()</c>,
/// so a shard and a JetStream partition agree). A stage's shard count is fixed, so the modulo is
/// computed with a precomputed multiplier (Lemire's fastmod, as the runtime's <c>Dictionary</c>
/// does) instead of a division on every write.
/// </summary>
internal readonly struct ShardRouter
{
    private readonly ulong _multiplier;
    private readonly uint _shards;

    /// <param name="shards">The number of keyed shards, at least 1.</param>
    public ShardRouter(int shards)
    {
        Debug.Assert(shards >= 1, "a stage has at least one keyed shard");
        _shards = (uint)shards;
        _multiplier = (ulong.MaxValue / _shards) + 1;
    }

    /// <summary>The keyed shard that owns <paramref name="hash"/>: exactly <c>hash % shards</c>.</summary>
    public int ShardOf(uint hash)
    {
        int shard = (int)(((((_multiplier * hash) >> 32) + 1) * _shards) >> 32);
        Debug.Assert(shard == (int)(hash % _shards), "fastmod equals the modulo");
        return shard;
    }
}
