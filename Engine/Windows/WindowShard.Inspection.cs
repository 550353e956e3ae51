namespace Engine.Windows;

/// <summary>The window shard's part in <c>Engine.Testing</c>: one consistent look at what it holds, off the item path.</summary>
internal sealed partial class WindowShard<T, TAcc>
{
    /// <summary>
    /// What the shard holds and whether its loop can move without the clock (see
    /// <see cref="WindowShardActivity"/>). Takes the shard's lock, so call it only to inspect (a test
    /// harness, a debugger), never on the item path.
    /// </summary>
    public WindowShardActivity Inspect()
    {
        lock (_gate)
        {
            // The loop can move without the clock when it is not asleep on its wait (it works, or is
            // between two waits), when something woke it (Wake resets _wakeAt; the wake task's
            // continuations run asynchronously, so the task it sleeps on may not have completed yet),
            // when closed windows wait for it, or when its deadline has come (the timer has fired or
            // is firing).
            bool asleep = Volatile.Read(ref _parkedOn) is { IsCompleted: false };
            bool busy = !asleep || _wakeAt == long.MinValue || _due.Count > 0 || _completing || _wakeAt <= Now();
            return new WindowShardActivity(
                busy,
                _open.Count,
                _openItems,
                _closing,
                _wakeAt is long.MinValue or long.MaxValue ? null : ToTime(_wakeAt));
        }
    }
}
