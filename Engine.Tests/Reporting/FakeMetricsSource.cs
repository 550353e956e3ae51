using Engine.Reporting;

namespace Engine.Tests.Reporting;

/// <summary>
/// A source for tests: per partition it writes a gauge and a counter sharing one tag list, plus one
/// point without tags; it can be told to throw (after writing a point, to show that point is dropped).
/// </summary>
internal sealed class FakeMetricsSource : IMetricsSource
{
    private readonly KeyValuePair<string, string?>[][] _partitions;

    public FakeMetricsSource(string name, int partitions)
    {
        Name = name;
        _partitions = [.. Enumerable.Range(0, partitions).Select(p => new KeyValuePair<string, string?>[] { new("stage", "orders"), new("partition", p.ToString(System.Globalization.CultureInfo.InvariantCulture)) })];
    }

    public string Name { get; }

    /// <summary>When set, the next calls throw this after writing one point.</summary>
    public Exception? Throw { get; set; }

    /// <summary>The pending figure every partition reports; the acked counter is ten times the partition plus this.</summary>
    public double Pending { get; set; } = 2.5;

    public int Calls { get; private set; }

    public void WritePoints(MetricPointWriter points)
    {
        Calls++;
        points.Gauge("fake_members", "members", 2);
        if (Throw is { } exception)
        {
            throw exception;
        }

        for (int p = 0; p < _partitions.Length; p++)
        {
            points.Gauge("fake_partition_pending", "messages", Pending, _partitions[p]);
            points.Counter("fake_partition_acked", "messages", (10 * p) + (long)Pending, _partitions[p]);
        }
    }
}
