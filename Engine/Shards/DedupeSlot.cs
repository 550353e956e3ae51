using System.Diagnostics;
using Engine.Routing;

namespace Engine.Shards;

/// <summary>
/// A waiting item of a dedupe stage whose payload can be replaced in place: the channel (or a key's
/// backlog, or the ready queue) holds the slot, and a newer write of its dedupe key overwrites the
/// payload without taking a new place. Slots are pooled per shard and touched only under its lock.
/// </summary>
[DebuggerDisplay("Key = {DedupeKey}, State = {State}")]
internal sealed class DedupeSlot<T>
{
    /// <summary>The payload that will run; replaced or merged by newer writes while the slot waits.</summary>
    public T Item = default!;

    /// <summary>The dedupe key (<see cref="ItemKey.None"/> when the item is not deduped).</summary>
    public ItemKey DedupeKey;

    /// <summary>The routing key, to check that a dedupe key refines it.</summary>
    public ItemKey RoutingKey;

    /// <summary>The payload's content hash, when the stage has content dedupe.</summary>
    public ulong ContentHash;

    /// <summary>Whether <see cref="ContentHash"/> is set.</summary>
    public bool HasContentHash;

    /// <summary>Whether the payload is a deletion.</summary>
    public bool IsTombstone;

    /// <summary>Where the slot is; only a waiting slot (in the channel, held or ready) may be replaced.</summary>
    public SlotState State;

    /// <summary>The trace context of the write whose payload the slot holds (the newest one after a replace or merge); moved into the envelope when the slot is taken.</summary>
    public object? Trace;

    /// <summary>Takes a new write's payload; the slot is about to enter the channel.</summary>
    public void Fill(in DedupeWrite<T> write)
    {
        Item = write.Item;
        DedupeKey = write.DedupeKey;
        RoutingKey = write.RoutingKey;
        ContentHash = write.ContentHash;
        HasContentHash = write.HasContentHash;
        IsTombstone = write.IsTombstone;
        Trace = write.Trace;
        State = SlotState.InChannel;
    }

    /// <summary>What the slot holds, as the write that would fill a slot with it (its trace included).</summary>
    public DedupeWrite<T> AsWrite() => new(Item, RoutingKey, DedupeKey, ContentHash, HasContentHash, IsTombstone) { Trace = Trace };

    public void Clear()
    {
        Item = default!;
        DedupeKey = default;
        RoutingKey = default;
        Trace = null;
        State = SlotState.Free;
    }
}
