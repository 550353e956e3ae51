using System.Diagnostics.Metrics;
using System.Text.RegularExpressions;
using Engine.Metrics;
using Engine.Reporting;

namespace Engine.Tests.Metrics;

/// <summary>The metric catalogue is the one list of metrics: the meter and docs/metrics.md agree with it.</summary>
public partial class MetricCatalogueTests
{
    private static readonly MetricDefinition[] Catalogue = [.. MetricCatalogue.All, .. ReporterMetricCatalogue.All];

    /// <summary>A cell naming an InfluxDB measurement: <c>`engine__x` (kind, `unit`)</c>, optionally <c>, tag `t`</c> before the parenthesis closes.</summary>
    [GeneratedRegex(@"^`(?<name>engine__[a-z0-9_]+)` \((?<kind>gauge|counter|meter|histogram|timer), `(?<unit>[^`]+)`(?:, tag `(?<tag>[a-z_]+)`)?\)$")]
    private static partial Regex MeasurementCell();

    /// <summary>A cell naming a meter instrument: <c>`engine.x` (type, `unit`)</c>, optionally <c>, tag `t`</c> before the parenthesis closes.</summary>
    [GeneratedRegex(@"^`(?<name>engine\.[a-z0-9_.]+)` \((?<kind>gauge|counter|histogram), `(?<unit>[^`]+)`(?:, tag `(?<tag>[a-z_]+)`)?\)$")]
    private static partial Regex InstrumentCell();

    /// <summary>How the docs name a metric's instrument type.</summary>
    private static string InstrumentType(MetricKind kind) => kind switch
    {
        MetricKind.Gauge => "gauge",
        MetricKind.Counter or MetricKind.Meter => "counter",
        _ => "histogram",
    };

    /// <summary>One metric as a table row states it: measurement, App.Metrics type and unit, dimension tag; instrument, type and unit, or none.</summary>
    private static string Describe(MetricDefinition metric)
    {
        string tag = metric.Dimension is { } dimension ? $", tag {dimension}" : "";
        string instrument = metric.Instrument is { } i ? $"{i.Name} ({InstrumentType(metric.Kind)}, {i.Unit}{tag})" : "—";
        return $"{metric.Measurement} ({metric.Kind.ToString().ToLowerInvariant()}, {metric.Unit}{tag}) | {instrument}";
    }

    private static string Describe(Match cell)
    {
        string tag = cell.Groups["tag"].Success ? $", tag {cell.Groups["tag"].Value}" : "";
        return $"{cell.Groups["name"].Value} ({cell.Groups["kind"].Value}, {cell.Groups["unit"].Value}{tag})";
    }

    /// <summary>Every row of every table in <paramref name="markdown"/> that names a measurement, described as <see cref="Describe(MetricDefinition)"/> does.</summary>
    private static List<string> DocumentedRows(string[] markdown, List<string> malformed)
    {
        var rows = new List<string>();
        for (int line = 0; line + 1 < markdown.Length; line++)
        {
            if (!markdown[line].StartsWith('|') || !markdown[line + 1].StartsWith("|---", StringComparison.Ordinal))
            {
                continue;
            }

            string[] header = Cells(markdown[line]);
            int measurementColumn = Array.FindIndex(header, h => h.StartsWith("InfluxDB", StringComparison.Ordinal));
            int instrumentColumn = Array.FindIndex(header, h => h.StartsWith("Meter instrument", StringComparison.Ordinal));
            if (measurementColumn < 0)
            {
                continue;
            }

            for (line += 2; line < markdown.Length && markdown[line].StartsWith('|'); line++)
            {
                string[] cells = Cells(markdown[line]);
                if (cells[measurementColumn].StartsWith('—'))
                {
                    continue;
                }

                Match measurement = MeasurementCell().Match(cells[measurementColumn]);
                string instrumentText = instrumentColumn < 0 ? "—" : cells[instrumentColumn];
                Match instrument = InstrumentCell().Match(instrumentText);
                if (!measurement.Success || (instrumentText != "—" && !instrument.Success))
                {
                    malformed.Add(markdown[line]);
                    continue;
                }

                rows.Add($"{Describe(measurement)} | {(instrument.Success ? Describe(instrument) : "—")}");
            }
        }

        return rows;
    }

    private static string[] Cells(string row) => [.. row.Trim().Trim('|').Split('|').Select(c => c.Trim())];

    [Test]
    public void Docs_metrics_md_lists_exactly_the_catalogue_s_measurements_and_instruments_with_their_types_units_and_tags()
    {
        string[] markdown = File.ReadAllLines(Path.Combine(TestContext.CurrentContext.TestDirectory, "docs", "metrics.md"));
        var malformed = new List<string>();
        List<string> documented = DocumentedRows(markdown, malformed);
        Assert.Multiple(() =>
        {
            Assert.That(malformed, Is.Empty, "rows whose measurement or instrument cell is not `name` (type, `unit`[, tag `t`]) or —");
            Assert.That(documented, Is.EquivalentTo(Catalogue.Select(Describe)), "docs/metrics.md's rows against the catalogue");
        });
    }

    [Test]
    public void Every_measurement_and_instrument_name_is_used_once()
    {
        Assert.Multiple(() =>
        {
            Assert.That(Catalogue.Select(m => m.Measurement), Is.Unique);
            Assert.That(Catalogue.Where(m => m.Instrument is not null).Select(m => m.Instrument!.Name), Is.Unique);
        });
    }

    [Test]
    public void The_Engine_meter_publishes_exactly_the_catalogue_s_instruments_with_their_types_units_and_descriptions()
    {
        var published = new List<string>();

        // Made first, so the listener's start publishes its instruments; the callback tells them by
        // name and missing scope rather than by reading EngineMeter.Default, which would re-enter the
        // type's initialiser if it ran from the callback (see ObservabilityDefaultsTests.Listen).
        Meter engine = EngineMeter.Default.Meter;
        using (var listener = new MeterListener())
        {
            listener.InstrumentPublished = (instrument, _) =>
            {
                if (instrument.Meter == engine)
                {
                    string type = instrument switch
                    {
                        Histogram<double> => "histogram",
                        ObservableGauge<long> or ObservableGauge<int> or ObservableGauge<double> => "gauge",
                        ObservableCounter<long> or ObservableCounter<double> => "counter",
                        _ => instrument.GetType().Name,
                    };
                    published.Add($"{instrument.Name} ({type}, {instrument.Unit}) {instrument.Description}");
                }
            };
            _ = EngineMeter.Default;
            listener.Start();
        }

        Assert.That(
            published,
            Is.EquivalentTo(Catalogue.Where(m => m.Instrument is not null).Select(m => $"{m.Instrument!.Name} ({InstrumentType(m.Kind)}, {m.Instrument.Unit}) {m.Description}")));
    }
}
