using System.ComponentModel.DataAnnotations;

namespace Engine.Timing;

/// <summary>
/// Turns on items that wait for their time in a stage: delayed writes (<c>Stage.WriteAsync(item, delay)</c>
/// and the due-time form), and a handler's requeue (<see cref="RequeueException"/>) and deferral
/// (<see cref="DeferException"/>). Each waits on the stage's <see cref="TimeProvider"/> and stays
/// outstanding until it has run: <c>Completion</c> waits for it, an abort abandons it and counts it.
/// </summary>
/// <remarks>
/// A stage without these options pays nothing for them: its plain write and take paths are unchanged.
/// With them, a keyed shard tracks its busy keys (as it does for retries), so a waiting item can keep
/// its key's order.
/// </remarks>
public sealed class DelayOptions
{
    /// <summary>
    /// The longest delay a write may ask for; a longer one fails with an <see cref="ArgumentOutOfRangeException"/>
    /// and the item is not accepted. A requeue or deferral asking for longer waits this long. The
    /// default value is one day; from one millisecond to <see cref="TimingConstants.MaxDelayLimit"/> (365 days).
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "365.00:00:00")]
    public TimeSpan MaxDelay { get; set; } = TimingConstants.DefaultMaxDelay;

    /// <summary>
    /// Whether a key's later items may run before its delayed item. False (the default): a delayed
    /// item keeps its place in its key's order, so the key's later items wait behind it until it has
    /// run. True: the delayed item joins its key's order only when it is due (behind whatever of the
    /// key is waiting then), and the key's other items run meanwhile.
    /// </summary>
    public bool LaterItemsOvertake { get; set; }
}
