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
/// optionally a per-shard table, then loops, limiters and reporters. Numbers use the invariant
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

        foreach (ReporterStatus status in report.Reporters)
        {
            text.Append(Invariant, $"reporter {status.Reporter}: flushes ok {status.Succeeded}, failed {status.Failed} (timed out {status.TimedOut}), skipped {status.Skipped}");
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

    private static void WriteStages(StringBuilder text, IReadOnlyList<StageMetricsSnapshot> stages, bool showShards)
    {
        text.Append("  stage           items/s   depth    max  util  work p50    p99   e2e p50    p99   errors  retries     dead  superseded  dropped\n");
        foreach (StageMetricsSnapshot stage in stages)
        {
            StageLine line = StageLine.From(stage);
            text.Append(Invariant, $"  {Cut(line.Stage, 14),-14}{line.ItemsPerSecond,9:0.0}{line.Depth,8}{line.MaxShardDepth,7}{line.Utilization,6:0%}{Ms(line.WorkP50),10}{Ms(line.WorkP99),7}");
            text.Append(Invariant, $"{Ms(line.EndToEndP50),10}{Ms(line.EndToEndP99),7}{line.Errors,9}{line.Retries,9}{line.DeadLettered,9}{line.Superseded,12}{line.Dropped,9}\n");
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

    /// <summary>Milliseconds with two decimals below 100 and none above; "-" for none.</summary>
    private static string Ms(double? milliseconds) => milliseconds switch
    {
        null => "-",
        >= 100 => milliseconds.Value.ToString("0", Invariant),
        _ => milliseconds.Value.ToString("0.00", Invariant),
    };

    private static string Cut(string value, int width) => value.Length <= width ? value : value[..(width - 1)] + "~";
}
