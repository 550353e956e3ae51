namespace Engine.Reporting;

/// <summary>The App.Metrics types a contributed <see cref="MetricPoint"/> can have.</summary>
public enum MetricPointKind
{
    /// <summary>A value as of the report (<c>mtype=gauge</c>): field <c>value</c>, a float.</summary>
    Gauge = 1,

    /// <summary>A cumulative count (<c>mtype=counter</c>): field <c>value</c>, an integer.</summary>
    Counter = 2,
}
