using System.Diagnostics;
using Engine.Internal;
using Engine.Routing;

namespace Engine.Windows;

/// <summary>
/// One window of one key while it is open or waiting to be forwarded. Owned by its shard and touched
/// only under that shard's lock (the loop reads a closed one, which nothing else touches any more).
/// Open windows form a list in the order they opened, so the oldest is at hand for an early flush
/// and a completion flushes them in order.
/// </summary>
[DebuggerDisplay("Key = {Key}, Count = {Count}, Closed = {Closed}")]
internal sealed class WindowState<TAcc> : IIntrusiveNode<WindowState<TAcc>>
{
    public WindowState(ItemKey key, TAcc value, long start, long entry)
    {
        Key = key;
        Value = value;
        Start = start;
        OldestEntry = entry;
    }

    public ItemKey Key { get; }

    /// <summary>The accumulator so far; replaced only after a fold returned.</summary>
    public TAcc Value { get; set; }

    public int Count { get; set; }

    /// <summary>UTC ticks: the window's start (see <see cref="WindowSpec.StartOf"/>).</summary>
    public long Start { get; }

    /// <summary>UTC ticks of the last fold (a session's gap runs from it).</summary>
    public long LastAt { get; set; }

    /// <summary>The smallest entry timestamp of its items: the window carries it downstream.</summary>
    public long OldestEntry { get; set; }

    /// <summary>UTC ticks: when it closed (its boundary, or the moment it was flushed).</summary>
    public long End { get; set; }

    public WindowCloseReason Reason { get; set; }

    /// <summary>Whether it left the open set; a deadline entry for it that is still queued is then stale.</summary>
    public bool Closed { get; set; }

    /// <summary>The window opened just before this one on its shard (null for the oldest); set by the shard's <see cref="IntrusiveQueue{TWaiter}"/>.</summary>
    public WindowState<TAcc>? Previous { get; set; }

    /// <summary>The window opened just after this one on its shard (null for the newest); set by the shard's queue.</summary>
    public WindowState<TAcc>? Next { get; set; }

    /// <summary>Whether the window is in its shard's queue of open windows; set by the queue.</summary>
    public bool Queued { get; set; }
}
