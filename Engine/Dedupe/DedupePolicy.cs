namespace Engine.Dedupe;

/// <summary>A validated copy of <see cref="DedupeOptions{T}"/>, taken when the stage is created.</summary>
internal sealed class DedupePolicy<T>
{
    /// <param name="options">The options.</param>
    /// <param name="keyedShards">The stage's keyed shards, over which the tracked keys are spread.</param>
    /// <param name="onSuperseded">Called instead of the options' callback when given (a harness's chain that calls it too).</param>
    public DedupePolicy(DedupeOptions<T> options, int keyedShards, Action<T, SupersedeReason>? onSuperseded = null)
    {
        Replace = options.Mode == DedupeMode.Replace;
        KeySelector = options.KeySelector;
        Merge = options.Merge;
        ContentHash = options.ContentHash;
        IsTombstone = options.IsTombstone;
        OnSuperseded = onSuperseded ?? options.OnSuperseded;
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
