namespace Engine.Windows;

/// <summary>What a keyed window step does when a shard already holds its share of <see cref="KeyedWindowOptions{T}.MaxOpenWindows"/> and an item needs a new window.</summary>
public enum WindowFullMode
{
    /// <summary>The item's handler waits until a window closes (on time) and frees a slot: writers upstream slow down. The default.</summary>
    Backpressure,

    /// <summary>The shard's oldest open window is closed at once and emitted (counted as an early flush), and the item opens its window.</summary>
    FlushOldest,
}
