using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using Engine.Dedupe;
using Engine.Routing;

namespace Engine.Shards;

/// <summary>
/// What a dedupe shard remembers about its keys: the waiting slot of each dedupe key that a newer
/// write may still replace (Replace mode), the content hash each key last processed (content dedupe),
/// and the pool of slots. Not thread-safe: its shard calls it under the shard's lock, and it asserts so.
/// </summary>
[DebuggerDisplay("Waiting = {WaitingKeys}, Tracked = {TrackedKeys}, Free = {_free.Count}")]
internal sealed class DedupeIndex<T>
{
    /// <summary>The shard's lock, which every call must hold (checked in debug builds).</summary>
    private readonly Lock _owner;

    /// <summary>Replaceable waiting slots by dedupe key; null unless in Replace mode.</summary>
    private readonly Dictionary<ItemKey, DedupeSlot<T>>? _waiting;

    /// <summary>Last processed content hash per dedupe key; null without content dedupe.</summary>
    private readonly ContentTable? _content;

    /// <summary>Slots no item uses, reused so a write allocates nothing once the pool is warm.</summary>
    private readonly Stack<DedupeSlot<T>> _free = new();

    /// <param name="owner">The lock the shard holds around every call.</param>
    /// <param name="replace">Whether a waiting item is replaced by a newer one of its dedupe key.</param>
    /// <param name="trackedKeys">How many keys' content hashes to remember; 0 for no content dedupe.</param>
    public DedupeIndex(Lock owner, bool replace, int trackedKeys)
    {
        _owner = owner;
        _waiting = replace ? [] : null;
        _content = trackedKeys > 0 ? new ContentTable(trackedKeys) : null;
    }

    /// <summary>Dedupe keys with a replaceable waiting slot now.</summary>
    public int WaitingKeys => _waiting?.Count ?? 0;

    /// <summary>Keys whose last processed content hash is remembered now.</summary>
    public int TrackedKeys => _content?.Count ?? 0;

    /// <summary>Content hashes forgotten to stay within the bound.</summary>
    public long ContentEvictions => _content?.Evictions ?? 0;

    /// <summary>The waiting slot a write of <paramref name="dedupeKey"/> would replace, if there is one (never for <see cref="ItemKey.None"/>).</summary>
    public bool TryGetWaiting(in ItemKey dedupeKey, [NotNullWhen(true)] out DedupeSlot<T>? slot)
    {
        AssertOwned();
        slot = null;
        return _waiting is not null && !dedupeKey.IsNone && _waiting.TryGetValue(dedupeKey, out slot);
    }

    /// <summary>A slot holding <paramref name="write"/>, from the pool when it has one.</summary>
    public DedupeSlot<T> Rent(in DedupeWrite<T> write)
    {
        AssertOwned();
        DedupeSlot<T> slot = _free.TryPop(out DedupeSlot<T>? free) ? free : new DedupeSlot<T>();
        slot.Fill(in write);
        return slot;
    }

    /// <summary>Makes a slot that just entered the channel the one newer writes of its dedupe key replace (Replace mode, keyed items only).</summary>
    public void Register(DedupeSlot<T> slot)
    {
        AssertOwned();
        if (_waiting is not null && !slot.DedupeKey.IsNone)
        {
            _waiting[slot.DedupeKey] = slot;
        }
    }

    /// <summary>Stops a slot from being replaceable (taken to run, or evicted); a newer registered slot of its key stays.</summary>
    public void Unregister(DedupeSlot<T> slot)
    {
        AssertOwned();
        if (_waiting is not null && !slot.DedupeKey.IsNone && _waiting.TryGetValue(slot.DedupeKey, out DedupeSlot<T>? current) && current == slot)
        {
            _waiting.Remove(slot.DedupeKey);
        }
    }

    /// <summary>Whether the slot's payload equals the content its key last processed (never for a deletion, or without a hash).</summary>
    public bool IsContentDuplicate(DedupeSlot<T> slot)
    {
        AssertOwned();
        return _content is not null && slot.HasContentHash && !slot.IsTombstone && !slot.DedupeKey.IsNone && _content.Matches(slot.DedupeKey, slot.ContentHash);
    }

    /// <summary>
    /// Records how a slot's item settled: processed (its content becomes its key's last, or a deletion
    /// clears it) or failed for good (its key's content is forgotten, so an identical later update
    /// runs again).
    /// </summary>
    public void Settled(DedupeSlot<T> slot, bool succeeded)
    {
        AssertOwned();
        if (_content is null)
        {
            return;
        }

        if (!succeeded || slot.IsTombstone)
        {
            _content.Remove(slot.DedupeKey);
        }
        else if (slot.HasContentHash)
        {
            _content.Set(slot.DedupeKey, slot.ContentHash);
        }
    }

    /// <summary>Gives a slot back to the pool. Only once no channel, backlog or queue can still hold it.</summary>
    public void Return(DedupeSlot<T> slot)
    {
        AssertOwned();
        Debug.Assert(slot.State != SlotState.Free && !_free.Contains(slot), "a slot is returned to the pool once");
        slot.Clear();
        _free.Push(slot);
    }

    /// <summary>Forgets every replaceable slot (an abort abandons them).</summary>
    public void ForgetWaiting()
    {
        AssertOwned();
        _waiting?.Clear();
    }

    [Conditional("DEBUG")]
    private void AssertOwned() => Debug.Assert(_owner.IsHeldByCurrentThread, "the dedupe index is used under its shard's lock");
}
