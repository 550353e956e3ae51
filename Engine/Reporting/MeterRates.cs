namespace Engine.Reporting;

/// <summary>
/// App.Metrics-style meter rates for one series, updated at each report from the interval's count:
/// exponentially weighted 1, 5 and 15 minute rates (the weight of an update of length t is
/// 1 − e^(−t/window), so irregular report intervals are handled) and the mean rate since the first
/// report. Per reporter, never static, so reporters do not disturb each other.
/// </summary>
internal sealed class MeterRates
{
    private static readonly double[] Windows = [60, 300, 900];
    private readonly double[] _rates = new double[3];
    private bool _started;
    private double _seconds;
    private long _count;

    public double OneMinute => _rates[0];

    public double FiveMinutes => _rates[1];

    public double FifteenMinutes => _rates[2];

    public double Mean => _seconds > 0 ? _count / _seconds : 0;

    /// <summary>Events counted over every interval so far, zero-length ones included (a timer's <c>count.meter</c>).</summary>
    public long Count { get; private set; }

    /// <summary>Adds an interval: <paramref name="count"/> events over <paramref name="seconds"/>.</summary>
    public void Update(long count, double seconds)
    {
        Count += count;
        if (seconds <= 0)
        {
            return;
        }

        double instant = count / seconds;
        for (int i = 0; i < Windows.Length; i++)
        {
            _rates[i] = _started ? _rates[i] + ((1 - Math.Exp(-seconds / Windows[i])) * (instant - _rates[i])) : instant;
        }

        _started = true;
        _seconds += seconds;
        _count += count;
    }
}
