using System.Text.RegularExpressions;
using Engine.Nats.Tests.Support;
using Engine.Reporting;

namespace Engine.Nats.Tests;

/// <summary>docs/scale-out.md lists exactly the points a member writes into reports, with their types and units.</summary>
public partial class ReportedPointsTests
{
    /// <summary>A table cell naming a point: <c>`nats_x` (gauge|counter, `unit`)</c>.</summary>
    [GeneratedRegex(@"^\| `(?<name>nats_[a-z_]+)` \((?<kind>gauge|counter), `(?<unit>[^`]+)`\) \|")]
    private static partial Regex PointRow();

    [Test]
    public async Task Docs_scale_out_md_lists_exactly_the_points_a_member_writes_with_their_types_and_units()
    {
        // Figures with every optional one present: an owned partition read from the server and taken over, and one owned elsewhere.
        var figures = new FakeFigures(
        [
            new NatsPartitionSnapshot { Partition = 0, Owner = "m", OwnedHere = true, Epoch = 7, Handovers = 1, LastTakeover = TimeSpan.FromSeconds(1.5), Pending = 3, AckPending = 1, Redelivered = 0, Acked = 10, HeldLocally = 1 },
            new NatsPartitionSnapshot { Partition = 1, Owner = "other", Pending = -1, AckPending = -1, Redelivered = -1 },
        ]);
        var capture = new CapturingReporter();
        await using (MetricsReporting reporting = MetricsReporting.Create(new MetricsReportingOptions { FlushOnStop = false }).Add(figures).AddReporter(capture))
        {
            reporting.Start();
            await reporting.FlushAsync().Within();
        }

        SourceMetricsSnapshot source = capture.Last!.Sources.Single();
        string[] written = [.. source.Points.Select(p => $"{p.Name} ({p.Kind.ToString().ToLowerInvariant()}, {p.Unit})").Distinct()];
        string[] documented = [.. File.ReadAllLines(Path.Combine(TestContext.CurrentContext.TestDirectory, "docs", "scale-out.md"))
            .Select(line => PointRow().Match(line))
            .Where(m => m.Success)
            .Select(m => $"{m.Groups["name"].Value} ({m.Groups["kind"].Value}, {m.Groups["unit"].Value})")];

        Assert.Multiple(() =>
        {
            Assert.That(source.Failed, Is.False);
            Assert.That(documented, Is.EquivalentTo(written));
            Assert.That(
                source.Points.Where(p => p.Name.StartsWith("nats_partition_", StringComparison.Ordinal) && p.Tags.Any(t => t.Key == "partition" && t.Value == "1")).Select(p => p.Name),
                Is.EqualTo(new[] { "nats_partition_owned", "nats_partition_handovers", "nats_partition_acked" }),
                "a partition owned elsewhere: only what this member knows of it");
            Assert.That(
                source.Points.Where(p => p.Tags.Any(t => t.Key == "partition" && t.Value == "1")).Select(p => p.Tags.Single(t => t.Key == "owner").Value),
                Is.All.EqualTo("other"));
        });
    }

    /// <summary>Fixed figures, reported as a member reports its own.</summary>
    private sealed class FakeFigures(IReadOnlyList<NatsPartitionSnapshot> partitions) : INatsMemberFigures, IMetricsSource
    {
        public string StageName => "s";

        public string MemberName => "m";

        public long OwnedCount => partitions.Count(p => p.OwnedHere);

        public long LeasesLost => 0;

        public string Name => NatsMemberPoints.SourceName(this);

        public IReadOnlyList<NatsPartitionSnapshot> CachedPartitions() => partitions;

        public void WritePoints(MetricPointWriter points) => NatsMemberPoints.Write(this, points);
    }
}
