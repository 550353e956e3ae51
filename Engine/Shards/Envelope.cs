using System.Runtime.InteropServices;
using Engine.Routing;

namespace Engine.Shards;

/// <summary>
/// An item on its way through a shard, with what the shard needs to know about it. A struct, so
/// moving an item through a channel allocates nothing.
/// </summary>
[StructLayout(LayoutKind.Auto)]
internal struct Envelope<T>
{
    /// <summary>The user's item.</summary>
    public T Item;

    /// <summary>The item's key; <see cref="ItemKey.None"/> in the unkeyed shard.</summary>
    public ItemKey Key;

    /// <summary>When the item entered the pipeline (<see cref="TimeProvider.GetTimestamp"/> ticks); carried through every stage.</summary>
    public long EntryTimestamp;

    /// <summary>When this stage accepted the item (<see cref="TimeProvider.GetTimestamp"/> ticks).</summary>
    public long AcceptedTimestamp;

    /// <summary>How many times the handler has run for the item; 0 until the first run starts.</summary>
    public int Attempts;

    /// <summary>In a dedupe stage, the slot that holds the (replaceable) payload; <see cref="Item"/> is filled from it when the item is taken.</summary>
    public DedupeSlot<T>? Slot;

    /// <summary>Marks set while the item is taken.</summary>
    public EnvelopeFlags Flags;

    /// <summary>
    /// The trace context the item was written in (see <c>Tracing/EngineTracing</c>): null when nothing
    /// listened to the <c>Engine</c> activity source at the write, and then its runs are not traced.
    /// The one field tracing adds to an item: a reference it already had, never an allocation of its own.
    /// </summary>
    public object? Trace;

    public Envelope(T item, ItemKey key, long entryTimestamp, long acceptedTimestamp)
    {
        Item = item;
        Key = key;
        EntryTimestamp = entryTimestamp;
        AcceptedTimestamp = acceptedTimestamp;
        Attempts = 0;
        Slot = null;
        Flags = EnvelopeFlags.None;
        Trace = null;
    }
}
