namespace Engine.Timing;

/// <summary>Defaults and limits of the timing options.</summary>
public static class TimingConstants
{
    /// <summary>The default <see cref="DelayOptions.MaxDelay"/>: one day.</summary>
    public static readonly TimeSpan DefaultMaxDelay = TimeSpan.FromDays(1);

    /// <summary>The largest <see cref="DelayOptions.MaxDelay"/> allowed: 365 days.</summary>
    public static readonly TimeSpan MaxDelayLimit = TimeSpan.FromDays(365);
}
