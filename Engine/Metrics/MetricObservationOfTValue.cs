using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Engine.Metrics;

/// <summary>A metric the meter reads as <typeparamref name="TValue"/>: one reader, or one per value of the metric's dimension.</summary>
/// <typeparam name="TLive">What the meter reads.</typeparam>
/// <typeparam name="TValue">The instrument's value type (<see cref="long"/>, <see cref="int"/>, <see cref="double"/>).</typeparam>
internal sealed class MetricObservation<TLive, TValue> : MetricObservation<TLive>
    where TValue : struct
{
    private readonly Func<TLive, TValue>[] _read;

    /// <summary>Reads with <paramref name="read"/>: one reader, or one per dimension value in the metric's order.</summary>
    public MetricObservation(params Func<TLive, TValue>[] read) => _read = read;

    /// <inheritdoc />
    public override Instrument Publish(Meter meter, MetricDefinition metric, Func<Instrument?, IEnumerable<(TLive Live, KeyValuePair<string, object?>[] Tags)>> live)
    {
        Debug.Assert(metric.Instrument is not null && metric.Kind is not (MetricKind.Timer or MetricKind.Histogram), "only gauges, counters and meters are observed");
        Debug.Assert(_read.Length == Math.Max(1, metric.DimensionValues.Count), "one reader per dimension value");
        MetricInstrument instrument = metric.Instrument!;

        // The callback names its instrument, so the meter can tell which instruments have seen a
        // disposed stage's final figures (null only if a listener collects while it is being created).
        Instrument? created = null;
        created = metric.Kind == MetricKind.Gauge
            ? meter.CreateObservableGauge(instrument.Name, () => Observe(metric, live(created)), instrument.Unit, metric.Description)
            : meter.CreateObservableCounter(instrument.Name, () => Observe(metric, live(created)), instrument.Unit, metric.Description);
        return created;
    }

    private List<Measurement<TValue>> Observe(MetricDefinition metric, IEnumerable<(TLive Live, KeyValuePair<string, object?>[] Tags)> live)
    {
        var measurements = new List<Measurement<TValue>>();
        foreach ((TLive owner, KeyValuePair<string, object?>[] tags) in live)
        {
            if (metric.Dimension is not { } dimension)
            {
                measurements.Add(new Measurement<TValue>(_read[0](owner), tags));
                continue;
            }

            for (int i = 0; i < _read.Length; i++)
            {
                measurements.Add(new Measurement<TValue>(_read[i](owner), [.. tags, new(dimension, metric.DimensionValues[i])]));
            }
        }

        return measurements;
    }
}
