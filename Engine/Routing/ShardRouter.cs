namespace Engine.Routing;

/// <summary>Maps a key's hash to a shard: unsigned modulo, as the reference systems do.</summary>
internal static class ShardRouter
{
    /// <summary>The keyed shard that owns <paramref name="hash"/> among <paramref name="shards"/>.</summary>
    public static int ShardOf(uint hash, int shards) => (int)(hash % (uint)shards);
}
