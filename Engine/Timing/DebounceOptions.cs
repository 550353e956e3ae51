using System.ComponentModel.DataAnnotations;

namespace Engine.Timing;

/// <summary>
/// Debounce per dedupe key (the sensor and alerting case: a burst of updates to one entity becomes
/// one run of the latest). An item waits until its dedupe key has been quiet for <see cref="QuietPeriod"/>,
/// but never longer than <see cref="MaxWait"/> after the key's first pending update; each newer write
/// meanwhile replaces (or, with <c>Dedupe.Merge</c>, merges into) the waiting one, counted as superseded
/// with reason <c>Delayed</c>. Needs <c>Dedupe</c> in <c>Replace</c> mode.
/// </summary>
public sealed class DebounceOptions
{
    /// <summary>How long a dedupe key must see no write before its item runs. Required; from one millisecond to 365 days.</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "365.00:00:00")]
    public TimeSpan QuietPeriod { get; set; }

    /// <summary>
    /// The longest an item waits after its key's first pending update, however busy the key stays.
    /// Required; at least <see cref="QuietPeriod"/> and at most 365 days.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "365.00:00:00")]
    public TimeSpan MaxWait { get; set; }
}
