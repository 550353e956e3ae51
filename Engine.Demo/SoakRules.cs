using System.Diagnostics;

namespace Engine.Demo;

/// <summary>
/// The soak's two verdicts, as plain functions of its samples: whether memory reached a plateau in a
/// phase, and whether the producer stalled in an interval (docs/soak.md states both rules).
/// </summary>
internal static class SoakRules
{
    /// <summary>The growth below which a phase counts as flat, however small its memory: 2 MB.</summary>
    public const double MinimumToleranceMegabytes = 2;

    /// <summary>The growth below which a phase counts as flat, as a share of its earlier peak: 5 %.</summary>
    public const double ToleranceShare = 0.05;

    /// <summary>The share of the offered rate below which an interval of load counts as stalled: 1 %.</summary>
    public const double StallShare = 0.01;

    /// <summary>
    /// How far the peak of the last third of a phase's samples rises above the peak of the samples
    /// before it (negative when it stays below). Peaks, not means or a fitted slope: a garbage-collected
    /// heap saws up and down, and a leak shows as each tooth topping the one before, while a settled
    /// process keeps hitting the same ceiling. Null with fewer than 3 samples.
    /// </summary>
    public static double? LastThirdGrowth(IReadOnlyList<double> samples)
    {
        ArgumentNullException.ThrowIfNull(samples);
        if (samples.Count < 3)
        {
            return null;
        }

        int lastThird = (samples.Count + 2) / 3;
        int earlier = samples.Count - lastThird;
        Debug.Assert(earlier >= 2 && lastThird >= 1, "both parts hold samples");
        return samples.Skip(earlier).Max() - samples.Take(earlier).Max();
    }

    /// <summary>
    /// Whether a phase's figure (in MB) reached a plateau: the peak of its last third rises above the
    /// earlier peak by at most <see cref="ToleranceShare"/> of that peak or
    /// <see cref="MinimumToleranceMegabytes"/>, whichever is larger. Null with fewer than 3 samples.
    /// </summary>
    public static bool? IsPlateau(IReadOnlyList<double> megabytes)
    {
        if (LastThirdGrowth(megabytes) is not { } growth)
        {
            return null;
        }

        double earlierPeak = megabytes.Take(megabytes.Count - ((megabytes.Count + 2) / 3)).Max();
        return growth <= Math.Max(MinimumToleranceMegabytes, ToleranceShare * earlierPeak);
    }

    /// <summary>
    /// Whether an interval under load took so few items that the producer must have stopped: fewer than
    /// <see cref="StallShare"/> of the offered <paramref name="rate"/> per second, or fewer than one
    /// per second when the rate is 0 (as fast as the pipeline takes them).
    /// </summary>
    public static bool IsStalled(double itemsPerSecond, int rate)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rate);
        return itemsPerSecond < Math.Max(1, StallShare * rate);
    }
}
