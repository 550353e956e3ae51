using System.Diagnostics.Metrics;

namespace Engine.Metrics;

/// <summary>
/// How the <c>Engine</c> meter reads one metric from its live owners (<typeparamref name="TLive"/>)
/// when a listener collects; <see cref="MetricObservation{TLive, TValue}"/> fixes the value type the
/// instrument is published with.
/// </summary>
/// <typeparam name="TLive">What the meter reads: a live shard, a loop's snapshot, a limiter.</typeparam>
internal abstract class MetricObservation<TLive>
{
    /// <summary>Creates <paramref name="metric"/>'s observable instrument on <paramref name="meter"/>.</summary>
    /// <param name="meter">The meter.</param>
    /// <param name="metric">The metric: its instrument, kind, description and dimension.</param>
    /// <param name="live">
    /// At each collection of the instrument (passed in, or null while it is being created), every live
    /// owner with its tags; an owner may be reused once the next is asked for.
    /// </param>
    /// <returns>The instrument.</returns>
    public abstract Instrument Publish(Meter meter, MetricDefinition metric, Func<Instrument?, IEnumerable<(TLive Live, KeyValuePair<string, object?>[] Tags)>> live);
}
