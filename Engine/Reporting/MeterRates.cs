namespace Engine.Reporting;

/// <summary>
/// App.Metrics' meter rates for one series, fed with each report's interval count: the cumulative
/// count, the mean rate since the meter was created (a reporter's first interval on a stage starts
/// when the stage started), and 1, 5 and 15 minute exponentially weighted moving averages ticked
/// every 5 seconds of the meter's life, as App.Metrics' <c>SimpleMeter</c> ticks them. Rates are per
/// second (scale them with <see cref="PerUnit"/>), computed in App.Metrics' order of operations
/// (nanosecond rates, then × 10⁹, then × the unit's factor) so the same counts give the same doubles. Per reporter, never static, so reporters do not
/// disturb each other.
/// </summary>
/// <remarks>
/// App.Metrics counts events as they happen and, every 5 s, turns the events since the previous tick
/// into an instant rate (count ÷ 5 s) that the averages move towards by a fixed weight
/// (1 − e^(−5/60), 1 − e^(−5/300), 1 − e^(−5/900)); the first tick sets them. A report only knows how many
/// events its interval held, so the interval's events are spread evenly over it and each 5 s
/// boundary the interval crosses is a tick; events after the last boundary wait for the next one.
/// A steady rate therefore gives App.Metrics' numbers whatever the report interval (7 s, 10 s, 1 min),
/// and a rate that changes only at report boundaries does too.
/// </remarks>
internal sealed class MeterRates
{
    /// <summary>App.Metrics' tick: the averages move every 5 seconds.</summary>
    public const long TickNanoseconds = 5L * NanosecondsPerSecond;

    private const long NanosecondsPerSecond = 1_000_000_000L;

    /// <summary>The tick as App.Metrics divides by it (a double), so instant rates are the same doubles.</summary>
    private const double Interval = TickNanoseconds;

    /// <summary>The weight of one tick for the 1, 5 and 15 minute averages, computed as App.Metrics computes them.</summary>
    private static readonly double[] Alphas = [Alpha(1), Alpha(5), Alpha(15)];

    /// <summary>Rates per nanosecond, App.Metrics' internal unit, so every double matches its.</summary>
    private readonly double[] _rates = new double[3];
    private bool _initialized;
    private long _elapsed;
    private double _uncounted;

    /// <summary>The 1 minute average as of the last tick, per second.</summary>
    public double OneMinute => _rates[0] * NanosecondsPerSecond;

    /// <summary>The 5 minute average as of the last tick, per second.</summary>
    public double FiveMinutes => _rates[1] * NanosecondsPerSecond;

    /// <summary>The 15 minute average as of the last tick, per second.</summary>
    public double FifteenMinutes => _rates[2] * NanosecondsPerSecond;

    /// <summary>Events per second since the meter was created (0 before any event).</summary>
    public double Mean => Count == 0 || _elapsed <= 0 ? 0 : Count / (double)_elapsed * NanosecondsPerSecond;

    /// <summary>Events counted over every interval so far (a meter's or timer's <c>count.meter</c>).</summary>
    public long Count { get; private set; }

    /// <summary>How many of <paramref name="unit"/> one second is: the factor from per second to per <paramref name="unit"/>.</summary>
    public static double PerUnit(RateUnit unit) => unit switch
    {
        RateUnit.Seconds => 1,
        RateUnit.Minutes => 60,
        RateUnit.Hours => 3600,
        _ => throw new ArgumentOutOfRangeException(nameof(unit), unit, "not a RateUnit"),
    };

    /// <summary>The <c>unit_rate</c> tag App.Metrics writes for <paramref name="unit"/>.</summary>
    public static string Tag(RateUnit unit) => unit switch
    {
        RateUnit.Seconds => "s",
        RateUnit.Minutes => "min",
        RateUnit.Hours => "h",
        _ => throw new ArgumentOutOfRangeException(nameof(unit), unit, "not a RateUnit"),
    };

    /// <summary>Adds an interval: <paramref name="count"/> events over the next <paramref name="length"/> of the meter's life.</summary>
    public void Update(long count, TimeSpan length)
    {
        Count += count;
        long nanoseconds = length.Ticks * 100;
        if (nanoseconds <= 0)
        {
            _uncounted += count;
            return;
        }

        long end = _elapsed + nanoseconds;
        long from = _elapsed;
        for (long tick = ((_elapsed / TickNanoseconds) + 1) * TickNanoseconds; tick <= end; tick += TickNanoseconds)
        {
            _uncounted += Share(count, tick - from, nanoseconds);
            Tick();
            from = tick;
        }

        _uncounted += Share(count, end - from, nanoseconds);
        _elapsed = end;
    }

    /// <summary>The events of <paramref name="part"/> nanoseconds of an interval, multiplied first so whole shares stay whole.</summary>
    private static double Share(long count, long part, long whole) => (double)count * part / whole;

    private static double Alpha(int minutes) => 1 - Math.Exp(-(TickNanoseconds / NanosecondsPerSecond) / 60.0 / minutes);

    private void Tick()
    {
        double instant = _uncounted / Interval;
        _uncounted = 0;
        for (int i = 0; i < _rates.Length; i++)
        {
            _rates[i] = _initialized ? _rates[i] + (Alphas[i] * (instant - _rates[i])) : instant;
        }

        _initialized = true;
    }
}
