namespace Engine.Loops;

/// <summary>What one run of a periodic job reports: how many items it handled and how many of those failed.</summary>
/// <param name="Items">Items the run handled.</param>
/// <param name="Failed">Items that failed within the run (the run itself still succeeded).</param>
public readonly record struct LoopRun(long Items, long Failed);
