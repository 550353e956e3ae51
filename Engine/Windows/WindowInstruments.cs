using System.Diagnostics.Metrics;
using Engine.Metrics;

namespace Engine.Windows;

/// <summary>
/// A window shard's histograms on the <c>Engine</c> meter: recorded when a window is forwarded, only
/// while a listener has enabled them, with the shard's tags. Null meter when the stage's metrics are off.
/// </summary>
internal sealed class WindowInstruments
{
    private readonly EngineMeter? _meter;
    private readonly KeyValuePair<string, object?>[] _tags;

    public WindowInstruments(EngineMeter? meter, KeyValuePair<string, object?>[] tags)
    {
        _meter = meter;
        _tags = tags;
    }

    /// <summary>Records one forwarded window: its items, and how long after its close it went out.</summary>
    public void Record(int items, long lateMicros)
    {
        if (_meter is null)
        {
            return;
        }

        Histogram<double> size = _meter.WindowItems;
        if (size.Enabled)
        {
            size.Record(items, _tags);
        }

        Histogram<double> lateness = _meter.WindowLateness;
        if (lateness.Enabled)
        {
            lateness.Record(lateMicros / 1e6, _tags);
        }
    }
}
