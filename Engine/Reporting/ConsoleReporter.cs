using System.Globalization;
using System.Text;
using Engine.Internal;
using Engine.Limiters;
using Engine.Loops;
using Engine.Metrics;

namespace Engine.Reporting;

/// <summary>
/// Writes a compact, human-readable view to a <see cref="TextWriter"/> at every flush: a header
/// (time, interval, global tags), one line per stage (see <see cref="StageLine"/> for the columns),
/// optionally a per-shard table, then loops, limiters, contributed sources (see
/// <see cref="IMetricsSource"/>: one row per tag set, its points side by side) and reporters. Numbers use the invariant
/// culture. With <see cref="ConsoleReporterOptions.AppMetricsText"/> it writes instead every point in
/// App.Metrics' plain-text format, as App.Metrics' console reporter would.
/// </summary>
public sealed class ConsoleReporter : IMetricsReporter
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;
    private readonly TextWriter _writer;
    private readonly bool _showShards;
    private readonly AppMetricsFormatter? _appMetrics;

    /// <summary>Creates a console reporter.</summary>
    /// <param name="options">How to write; validated and copied now. Null takes the defaults.</param>
    /// <exception cref="ArgumentException">An option is invalid; the message names it.</exception>
    public ConsoleReporter(ConsoleReporterOptions? options = null)
    {
        options ??= new ConsoleReporterOptions();
        OptionsValidation.Validate(options, "ConsoleReporter", "options");
        Name = options.Name;
        FlushInterval = options.FlushInterval;
        _writer = options.Writer ?? Console.Out;
        _showShards = options.ShowShards;
        if (!Enum.IsDefined(options.RateUnit))
        {
            throw OptionsValidation.Invalid("ConsoleReporter", "options.RateUnit", $"must be Seconds, Minutes or Hours; it is {(int)options.RateUnit}.");
        }

        _appMetrics = options.AppMetricsText ? new AppMetricsFormatter(rateUnit: options.RateUnit) : null;
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <inheritdoc />
    public TimeSpan FlushInterval { get; }

    /// <summary>The stage lines of a report, the rows of the console view (pipelines' stages first).</summary>
    /// <param name="report">The report.</param>
    /// <returns>One line per stage.</returns>
    public static IReadOnlyList<StageLine> StageLines(MetricsReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        return [.. report.AllStages.Select(StageLine.From)];
    }

    /// <summary>The text one flush writes as a table (the default view).</summary>
    /// <param name="report">The report.</param>
    /// <param name="showShards">Whether to add a per-shard table under each stage.</param>
    /// <returns>The text, lines ending with <c>\n</c>.</returns>
    public static string Format(MetricsReport report, bool showShards = false)
    {
        ArgumentNullException.ThrowIfNull(report);
        var text = new StringBuilder();
        text.Append(Invariant, $"engine {report.Timestamp.UtcDateTime:yyyy-MM-dd HH:mm:ss}Z  interval {report.Interval.TotalSeconds:0.0} s");
        text.Append(Invariant, $"  app={report.Tags.App} env={report.Tags.Env} server={report.Tags.Server}");
        text.Append(report.IsFinal ? "  (final)\n" : "\n");

        foreach (PipelineMetricsSnapshot pipeline in report.Pipelines)
        {
            text.Append(Invariant, $"pipeline {pipeline.Pipeline}  e2e p50 {Ms(pipeline.EndToEnd.P50)} p99 {Ms(pipeline.EndToEnd.P99)} ms  ({pipeline.EndToEnd.Count} settled)\n");
            WriteStages(text, pipeline.Stages, showShards);
        }

        if (report.Stages.Count > 0)
        {
            text.Append("stages\n");
            WriteStages(text, report.Stages, showShards);
        }

        foreach (LoopMetricsSnapshot loop in report.Loops)
        {
            string since = loop.SinceLastSuccess is { } s ? $"{s.TotalSeconds:0.0} s ago" : "never";
            text.Append(Invariant, $"loop {loop.Loop}: runs {loop.Runs} (failed {loop.FailedRuns}), running {loop.Running}, last {loop.LastRunDuration.TotalMilliseconds:0.0} ms for {loop.LastRunItems} items, last success {since}\n");
        }

        foreach (LimiterMetricsSnapshot limiter in report.Limiters)
        {
            text.Append(Invariant, $"limiter {limiter.Limiter}: held {limiter.Held}/{limiter.MaxConcurrency}, waiting {limiter.Waiting}, acquired {limiter.Acquired}, wait p50 {Ms(limiter.WaitTime.P50)} p99 {Ms(limiter.WaitTime.P99)} ms\n");
        }

        foreach (SourceMetricsSnapshot source in report.Sources)
        {
            WriteSource(text, source);
        }

        foreach (ReporterStatus status in report.Reporters)
        {
            text.Append(Invariant, $"reporter {status.Reporter} before this report: flushes ok {status.Succeeded}, failed {status.Failed} (timed out {status.TimedOut}), skipped {status.Skipped}");
            if (status.Delivery is { } d)
            {
                text.Append(Invariant, $"; points sent {d.Sent}, buffered {d.Buffered}, dropped {d.Dropped}, rejected {d.Rejected}");
            }

            text.Append('\n');
        }

        return text.ToString();
    }

    /// <inheritdoc />
    public async ValueTask FlushAsync(MetricsReport report, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(report);
        string text;
        if (_appMetrics is null)
        {
            text = Format(report, _showShards);
        }
        else
        {
            // App.Metrics' console reporter writes the formatter's output with Console.WriteLine.
            var points = new StringBuilder();
            _appMetrics.Write(new AppMetricsTextWriter(points), report);
            text = points.Append('\n').ToString();
        }

        await _writer.WriteAsync(text.AsMemory(), cancellationToken).ConfigureAwait(false);
        await _writer.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// A stage's items that wait for their time (issue 26), when it has any: the depth split and the
    /// catalogue's counters of delays, requeues, deferrals and rate limits (cumulative).
    /// </summary>
    private static void WriteTimed(StringBuilder text, StageCounts counts)
    {
        long delayed = MetricCatalogue.ItemsDelayed.Total(counts);
        long requeued = MetricCatalogue.ItemsRequeued.Total(counts);
        long deferred = MetricCatalogue.ItemsDeferred.Total(counts);
        long limited = MetricCatalogue.ItemsRateLimited.Total(counts);
        if (delayed + requeued + deferred + limited + counts.WaitingDelayed + counts.WaitingRetry == 0)
        {
            return;
        }

        text.Append(Invariant, $"    depth: runnable {counts.WaitingRunnable}, delayed {counts.WaitingDelayed}, retrying {counts.WaitingRetry}; ");
        text.Append(Invariant, $"delayed {delayed}, requeued {requeued}, deferred {deferred}, rate-limited {limited}\n");
    }

    private static void WriteStages(StringBuilder text, IReadOnlyList<StageMetricsSnapshot> stages, bool showShards)
    {
        text.Append("  stage           items/s   depth    max  util  work p50    p99   e2e p50    p99   errors  retries     dead  superseded  dropped\n");
        foreach (StageMetricsSnapshot stage in stages)
        {
            StageLine line = StageLine.From(stage);
            text.Append(Invariant, $"  {Cut(line.Stage, 14),-14}{line.ItemsPerSecond,9:0.0}{line.Depth,8}{line.MaxShardDepth,7}{line.Utilization,6:0%}{Ms(line.WorkP50),10}{Ms(line.WorkP99),7}");
            text.Append(Invariant, $"{Ms(line.EndToEndP50),10}{Ms(line.EndToEndP99),7}{line.Errors,9}{line.Retries,9}{line.DeadLettered,9}{line.Superseded,12}{line.Dropped,9}\n");
            if (stage.BatchSize is { Count: > 0 } sizes)
            {
                // A batcher's own figures, which the stage columns have no place for.
                text.Append(Invariant, $"    batches {sizes.Count}, items per batch mean {sizes.MeanMilliseconds:0.0} p50 {sizes.P50:0.#} max {sizes.MaxMilliseconds:0}; wait in batch p50 {Ms(stage.QueueWait.P50)} p99 {Ms(stage.QueueWait.P99)} ms\n");
            }

            WriteTimed(text, stage.Counts);
            WriteWindows(text, stage);
            if (showShards)
            {
                text.Append("      shard  items/s   depth   peak  util  work p50    p99  wait p99  in flight  longest s\n");
                foreach (ShardMetricsSnapshot shard in stage.Shards)
                {
                    string name = shard.Shard == stage.Shards.Count - 1 ? "unkeyed" : shard.Shard.ToString(Invariant);
                    text.Append(Invariant, $"    {name,7}{shard.ProcessedPerSecond,9:0.0}{shard.Depth,8}{shard.DepthPeak,7}{shard.Utilization,6:0%}{Ms(shard.WorkDuration.P50),10}{Ms(shard.WorkDuration.P99),7}{Ms(shard.QueueWait.P99),10}{shard.Counts.InFlight,11}{shard.LongestRunning.TotalSeconds,11:0.000}\n");
                }
            }
        }
    }

    /// <summary>A keyed window step's line under its stage (see <see cref="WindowLine"/>).</summary>
    private static void WriteWindows(StringBuilder text, StageMetricsSnapshot stage)
    {
        if (WindowLine.From(stage) is not { } line)
        {
            return;
        }

        WindowCounts c = line.Counts;
        text.Append(Invariant, $"    windows open {c.Open}, emitted {c.Emitted} ({c.ItemsEmitted} items), early {c.EarlyFlushes}, at completion {c.CompletionFlushes}, abandoned items {c.AbandonedItems}");
        text.Append(Invariant, $"; items/window mean {line.MeanItems:0.#} max {line.LargestWindow:0}, lateness p99 {Ms(line.LatenessP99)} ms\n");
    }

    /// <summary>
    /// A source's header, then one row per distinct tag set (in the order first written) with that set's
    /// points as <c>name=value</c>. A source writes a figure per tag set (a partition, say) as separate
    /// points; a row puts them back side by side. When a row's names share a prefix ending in <c>_</c>
    /// it is written once, as <c>prefix*:</c>, so the row reads <c>nats_partition_*: owned=1 epoch=7</c>.
    /// </summary>
    private static void WriteSource(StringBuilder text, SourceMetricsSnapshot source)
    {
        text.Append(Invariant, $"source {source.Source}: {source.Points.Count} points, failures {source.Failures}{(source.Failed ? " (this report's call failed)" : "")}\n");
        var rows = new List<(IReadOnlyList<KeyValuePair<string, string?>> Tags, List<MetricPoint> Points)>();
        foreach (MetricPoint point in source.Points)
        {
            if (point.Name is null)
            {
                continue;
            }

            // Points of one tag set are usually written together: try the last row first.
            int row = rows.Count > 0 && SameTags(rows[^1].Tags, point.Tags) ? rows.Count - 1 : rows.FindIndex(r => SameTags(r.Tags, point.Tags));
            if (row < 0)
            {
                rows.Add((point.Tags, []));
                row = rows.Count - 1;
            }

            rows[row].Points.Add(point);
        }

        foreach ((IReadOnlyList<KeyValuePair<string, string?>> tags, List<MetricPoint> points) in rows)
        {
            text.Append("  ");
            int shown = 0;
            foreach (KeyValuePair<string, string?> tag in tags)
            {
                if (!string.IsNullOrEmpty(tag.Value))
                {
                    text.Append(shown++ == 0 ? "" : " ").Append(tag.Key).Append('=').Append(tag.Value);
                }
            }

            string prefix = CommonPrefix(points);
            text.Append(shown > 0 ? "  " : "");
            if (prefix.Length > 0)
            {
                text.Append(prefix).Append("*:");
            }

            for (int i = 0; i < points.Count; i++)
            {
                MetricPoint point = points[i];
                text.Append(i == 0 && prefix.Length == 0 ? "" : " ").Append(point.Name, prefix.Length, point.Name.Length - prefix.Length).Append('=');
                text.Append(point.Kind == MetricPointKind.Counter ? point.Count.ToString(Invariant) : point.Value.ToString("0.###", Invariant));
            }

            text.Append('\n');
        }
    }

    private static bool SameTags(IReadOnlyList<KeyValuePair<string, string?>> a, IReadOnlyList<KeyValuePair<string, string?>> b)
    {
        if (ReferenceEquals(a, b))
        {
            return true;
        }

        if (a.Count != b.Count)
        {
            return false;
        }

        for (int i = 0; i < a.Count; i++)
        {
            if (a[i].Key != b[i].Key || (a[i].Value ?? "") != (b[i].Value ?? ""))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The longest prefix ending in <c>_</c> that every name of the row shares, when the row has two names or more; else empty.</summary>
    private static string CommonPrefix(List<MetricPoint> points)
    {
        if (points.Count < 2)
        {
            return "";
        }

        string first = points[0].Name;
        int length = first.Length;
        foreach (MetricPoint point in points)
        {
            int i = 0;
            while (i < length && i < point.Name.Length && point.Name[i] == first[i])
            {
                i++;
            }

            length = i;
        }

        int end = first.LastIndexOf('_', Math.Max(0, length - 1));
        // The prefix must leave every name a non-empty rest.
        return end < 0 || points.Any(p => p.Name.Length == end + 1) ? "" : first[..(end + 1)];
    }

    /// <summary>Milliseconds with two decimals below 100 and none above; "-" for none.</summary>
    private static string Ms(double? milliseconds) => milliseconds switch
    {
        null => "-",
        >= 100 => milliseconds.Value.ToString("0", Invariant),
        _ => milliseconds.Value.ToString("0.00", Invariant),
    };

    private static string Cut(string value, int width) => value.Length <= width ? value : value[..(width - 1)] + "~";
}
