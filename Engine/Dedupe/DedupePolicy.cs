namespace Engine.Dedupe;

/// <summary>A validated copy of <see cref="DedupeOptions{T}"/>, taken when the stage is created.</summary>
internal sealed class DedupePolicy<T>
{
    public DedupePolicy(DedupeOptions<T> options, int keyedShards)
    {
        Replace = options.Mode == DedupeMode.Replace;
        KeySelector = options.KeySelector;
        Merge = options.Merge;
        ContentHash = options.ContentHash;
        IsTombstone = options.IsTombstone;
        OnSuperseded = options.OnSuperseded;
        TrackedKeysPerShard = Math.Max(1, (int)Math.Ceiling(options.MaxTrackedKeys / (double)keyedShards));
    }

    /// <summary>Whether waiting items of one key collapse (<see cref="DedupeMode.Replace"/>).</summary>
    public bool Replace { get; }

    public Func<T, Routing.ItemKey>? KeySelector { get; }

    public Func<T, T, T>? Merge { get; }

    public Func<T, ulong>? ContentHash { get; }

    public Func<T, bool>? IsTombstone { get; }

    public Action<T, SupersedeReason>? OnSuperseded { get; }

    /// <summary>The content table's capacity in each keyed shard.</summary>
    public int TrackedKeysPerShard { get; }
}
