namespace Engine.Inspection;

/// <summary>
/// A clock that watches what is built on it: <c>Engine.Testing</c>'s harness clock. A stage, batch
/// stage or periodic loop created on such a clock registers itself (<see cref="Watch"/>) and, for a
/// stage, has its handler and callbacks observed (<see cref="RunWatch{T}"/>), so the harness can tell
/// when nothing can happen until the clock moves, and say what is still busy when something can.
/// On any other clock none of this exists: the engine's own paths never look at it per item.
/// </summary>
internal interface IWatchingClock
{
    /// <summary>Registers a part built on this clock. Called once, from the part's constructor.</summary>
    void Watch(IWatchedPart part);

    /// <summary>The jitter source for retries of stages on this clock, so a harness can seed it; a value in [0, 1).</summary>
    double NextJitter();
}
