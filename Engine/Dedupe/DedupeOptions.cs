using System.ComponentModel.DataAnnotations;
using Engine.Routing;

namespace Engine.Dedupe;

/// <summary>
/// How a stage dedupes: replace-in-place of waiting items, collapse of items that arrive while their
/// key is running, and content dedupe against the last successfully processed version. All of it is
/// per shard (no lock shared across shards) and every superseded item is counted by reason.
/// </summary>
/// <remarks>
/// Dedupe works on keyed items; items without a routing key (the unkeyed shard) are always plain FIFO.
/// </remarks>
/// <typeparam name="T">The item type.</typeparam>
public sealed class DedupeOptions<T>
{
    /// <summary>Whether waiting items of one dedupe key collapse. The default value is <see cref="DedupeMode.None"/>.</summary>
    [EnumDataType(typeof(DedupeMode))]
    public DedupeMode Mode { get; set; } = DedupeMode.None;

    /// <summary>
    /// The dedupe key. The default (null) is the routing key. A custom key must refine the routing key
    /// (two items with equal dedupe keys must have equal routing keys, for example
    /// <c>deployment/resource</c> under a <c>deployment</c> routing key); a write that breaks this fails
    /// with an <see cref="ArgumentException"/>. An item whose dedupe key is <see cref="ItemKey.None"/> is not deduped.
    /// </summary>
    public Func<T, ItemKey>? KeySelector { get; set; }

    /// <summary>
    /// Combines a waiting item with a newer one, <c>(waiting, incoming) → merged</c>, instead of plain
    /// replacement (<see cref="DedupeMode.Replace"/> only). It runs under the shard's lock: keep it short.
    /// If it throws, the write fails with an <see cref="ArgumentException"/> and the waiting item is kept.
    /// The default (null) replaces.
    /// </summary>
    public Func<T, T, T>? Merge { get; set; }

    /// <summary>
    /// A hash of an item's content. When set, an item whose hash equals that of the last successfully
    /// processed item of its dedupe key is skipped (superseded with <see cref="SupersedeReason.Content"/>).
    /// The comparison happens when the item is about to run, so a newer, different version waiting in
    /// between is never lost. The default (null) turns content dedupe off.
    /// </summary>
    public Func<T, ulong>? ContentHash { get; set; }

    /// <summary>
    /// Marks deletions: a tombstone is never skipped by content dedupe, and once processed it clears its
    /// key's remembered hash. The default (null) marks nothing.
    /// </summary>
    public Func<T, bool>? IsTombstone { get; set; }

    /// <summary>
    /// How many keys' content hashes the stage remembers (spread over its keyed shards); beyond it the
    /// least recently used is forgotten (counted as an eviction, after which an identical update runs
    /// again). The default value is 100,000.
    /// </summary>
    [Range(1, DedupeConstants.MaxTrackedKeysLimit)]
    public int MaxTrackedKeys { get; set; } = DedupeConstants.DefaultMaxTrackedKeys;

    /// <summary>
    /// Told of every superseded item with the reason. Called outside the shard's lock, on the writing
    /// thread or a worker; exceptions it throws are swallowed and counted.
    /// </summary>
    public Action<T, SupersedeReason>? OnSuperseded { get; set; }
}
