namespace Engine.Reporting;

/// <summary>
/// The time unit meter and timer rates (<c>rate1m</c>, <c>rate5m</c>, <c>rate15m</c>, <c>rate.mean</c>)
/// are written in, and the <c>unit_rate</c> tag that names it, as App.Metrics' <c>TimeUnit</c> does.
/// App.Metrics' default for meters and timers is <see cref="Minutes"/>.
/// </summary>
public enum RateUnit
{
    /// <summary>Events per second; <c>unit_rate=s</c>.</summary>
    Seconds = 1,

    /// <summary>Events per minute (60 × per second); <c>unit_rate=min</c>. App.Metrics' default.</summary>
    Minutes = 2,

    /// <summary>Events per hour (3,600 × per second); <c>unit_rate=h</c>.</summary>
    Hours = 3,
}
