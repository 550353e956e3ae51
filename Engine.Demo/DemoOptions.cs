namespace Engine.Demo;

/// <summary>The demo's settings, as parsed from the command line by <see cref="DemoCommandLine"/>.</summary>
internal sealed record DemoOptions
{
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>Offered load in items per second; 0 = as fast as the pipeline takes them.</summary>
    public int Rate { get; init; } = 2000;

    public int Entities { get; init; } = 2000;

    public int Shards { get; init; } = 4;

    public int Workers { get; init; } = 4;

    public int Capacity { get; init; } = 1024;

    public TimeSpan ReportInterval { get; init; } = TimeSpan.FromSeconds(1);

    public int Seed { get; init; } = 42;

    /// <summary>Plain periodic lines instead of the redrawn view (also chosen when stdout is not a terminal).</summary>
    public bool NoLive { get; init; }

    /// <summary>The InfluxDB server to report to, or null.</summary>
    public string? Influx { get; init; }

    /// <summary>InfluxDB 1.x database.</summary>
    public string? InfluxDatabase { get; init; }

    /// <summary>InfluxDB 2.x organisation, bucket and token.</summary>
    public string? InfluxOrganization { get; init; }

    public string? InfluxBucket { get; init; }

    public string? InfluxToken { get; init; }

    /// <summary>Whether points that never made it into InfluxDB fail the run (exit code 3).</summary>
    public bool RequireDelivery { get; init; }

    /// <summary>Whether to run a soak: <see cref="Duration"/> of load, then <see cref="Idle"/> without it, sampled every <see cref="ReportInterval"/>.</summary>
    public bool Soak { get; init; }

    /// <summary>With <see cref="Soak"/>: how long to stay idle after the load.</summary>
    public TimeSpan Idle { get; init; }

    /// <summary>The NATS server of the distributed mode (<c>--nats</c>), or null for the in-process demo.</summary>
    public string? Nats { get; init; }

    /// <summary>With <see cref="Nats"/>: the member name to run as, or null.</summary>
    public string? Member { get; init; }

    /// <summary>With <see cref="Nats"/>: write the workload to the distributed stage.</summary>
    public bool Produce { get; init; }

    /// <summary>With <see cref="Nats"/>: print the stage's overall accounting from the server.</summary>
    public bool Status { get; init; }

    /// <summary>The distributed stage's name.</summary>
    public string Stage { get; init; } = "demo";

    /// <summary>The distributed stage's partition count.</summary>
    public int Partitions { get; init; } = 16;

    /// <summary>A member's partition lease time.</summary>
    public TimeSpan LeaseTtl { get; init; } = TimeSpan.FromSeconds(3);
}
