namespace Engine.Windows;

/// <summary>One look at a window shard (see <c>WindowShard.Inspect</c>), for <c>Engine.Testing</c>'s harness.</summary>
/// <param name="Busy">Its loop can move without the clock: it works, was woken, has closed windows to forward, or its deadline has come.</param>
/// <param name="Open">Open windows.</param>
/// <param name="OpenItems">Items in the open windows.</param>
/// <param name="Closing">Closed windows not yet forwarded.</param>
/// <param name="NextClose">When the loop wakes to close the next window, while it sleeps until one; otherwise null.</param>
internal readonly record struct WindowShardActivity(bool Busy, int Open, long OpenItems, long Closing, DateTimeOffset? NextClose);
