namespace Engine.Internal;

/// <summary>Converts spans of time to ticks of a <see cref="TimeProvider"/>'s timestamps, exactly when the frequencies agree.</summary>
internal static class ClockTicks
{
    /// <summary><paramref name="span"/> in <see cref="TimeProvider.GetTimestamp"/> ticks of <paramref name="clock"/> (rounded down).</summary>
    public static long From(TimeProvider clock, TimeSpan span) => (long)((Int128)span.Ticks * clock.TimestampFrequency / TimeSpan.TicksPerSecond);
}
