using System.Diagnostics;
using Engine.Routing;

namespace Engine.Windows;

/// <summary>
/// One closed window of one key: the accumulator its items were folded into, how many there were, when
/// the window opened and closed on the pipeline's clock, and why it closed. It travels downstream with
/// the entry timestamp of its oldest item, so the end-to-end latency a sink records is that item's.
/// </summary>
/// <typeparam name="TAcc">The accumulator's type (for a per-key batch, the items).</typeparam>
[DebuggerDisplay("Key = {Key}, Count = {Count}, Reason = {Reason}")]
public sealed class KeyedWindow<TAcc>
{
    internal KeyedWindow(ItemKey key, TAcc value, int count, DateTimeOffset start, DateTimeOffset end, WindowCloseReason reason)
    {
        Key = key;
        Value = value;
        Count = count;
        Start = start;
        End = end;
        Reason = reason;
    }

    /// <summary>The key every item of the window had (<see cref="ItemKey.None"/> for items without one).</summary>
    public ItemKey Key { get; }

    /// <summary>The accumulator after the window's last item.</summary>
    public TAcc Value { get; }

    /// <summary>How many items were folded into the window (at least 1).</summary>
    public int Count { get; }

    /// <summary>When the window opened: a tumbling window's aligned start, else its first item's arrival.</summary>
    public DateTimeOffset Start { get; }

    /// <summary>When it closed: its boundary when its time ran out, else the moment it was flushed or filled.</summary>
    public DateTimeOffset End { get; }

    /// <summary>Why it closed.</summary>
    public WindowCloseReason Reason { get; }
}
