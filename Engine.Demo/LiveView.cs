using System.Globalization;
using Engine.Limiters;
using Engine.Loops;
using Engine.Metrics;
using Engine.Reporting;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Engine.Demo;

/// <summary>
/// The redrawn view: a reporter that turns each report's stage lines (the console reporter's
/// columns, <see cref="ConsoleReporter.StageLines"/>) into a table and redraws it in place with
/// Spectre.Console's live display.
/// </summary>
internal sealed class LiveView : IMetricsReporter
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;
    private readonly IAnsiConsole _console;
    private readonly DemoOptions _options;
    private readonly DateTimeOffset _started;
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<LiveDisplayContext> _context = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _display = Task.CompletedTask;

    public LiveView(IAnsiConsole console, DemoOptions options, DateTimeOffset started)
    {
        _console = console;
        _options = options;
        _started = started;
    }

    public string Name => "live";

    public TimeSpan FlushInterval => _options.ReportInterval;

    /// <summary>What the header says after the load stopped (such as "draining… 812 items left"); null while loading.</summary>
    public string? Status { get; set; }

    /// <summary>Starts the live display; it holds the screen region until <see cref="EndAsync"/>.</summary>
    public void Start()
    {
        _display = _console.Live(new Text("starting…")).AutoClear(false).Overflow(VerticalOverflow.Ellipsis).StartAsync(async context =>
        {
            _context.TrySetResult(context);
            await _done.Task.ConfigureAwait(false);
            context.Refresh();
        });
    }

    /// <summary>Leaves the last view on screen and gives the console back.</summary>
    public async Task EndAsync()
    {
        _done.TrySetResult();
        await _display.ConfigureAwait(false);
    }

    public async ValueTask FlushAsync(MetricsReport report, CancellationToken cancellationToken)
    {
        LiveDisplayContext context = await _context.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        context.UpdateTarget(Render(report));
        context.Refresh();
    }

    private Rows Render(MetricsReport report)
    {
        double elapsed = (report.Timestamp - _started).TotalSeconds;
        string rate = _options.Rate == 0 ? "as fast as possible" : $"{_options.Rate}/s offered";
        var rows = new List<IRenderable>
        {
            new Markup(string.Create(Invariant, $"[bold]Engine demo[/]  {Math.Min(elapsed, _options.Duration.TotalSeconds),5:0.0} s of {_options.Duration.TotalSeconds:0} s  ·  {rate}  ·  {_options.Shards} shards  ·  {_options.Entities} entities{(report.IsFinal ? "  ·  [green]done[/]" : string.Empty)}")),
        };

        // A line of its own: the per-stage list of what is left is too long for the header.
        if (!report.IsFinal && Status is { } draining)
        {
            rows.Add(new Markup($"[yellow]{draining.EscapeMarkup()}[/]"));
        }

        foreach (var pipeline in report.Pipelines)
        {
            rows.Add(new Markup(string.Create(Invariant, $"pipeline [bold]{pipeline.Pipeline.EscapeMarkup()}[/]  end-to-end p50 {pipeline.EndToEnd.P50:0.0} ms  p99 {pipeline.EndToEnd.P99:0.0} ms")));
        }

        // Compact columns (the console reporter's, with short headers) so the table fits 100 columns.
        var table = new Table().Border(TableBorder.Simple);
        table.AddColumn(new TableColumn("stage").NoWrap().Padding(0, 0, 1, 0));
        foreach (string column in new[] { "items/s", "depth", "max", "util", "work p50", "p99", "e2e p50", "p99", "err", "retry", "dead", "superseded", "dropped" })
        {
            table.AddColumn(new TableColumn(column).RightAligned().NoWrap().Padding(1, 0, 0, 0));
        }

        foreach (StageLine line in ConsoleReporter.StageLines(report))
        {
            table.AddRow(
                line.Stage.EscapeMarkup(),
                line.ItemsPerSecond.ToString("0", Invariant),
                line.Depth.ToString(Invariant),
                line.MaxShardDepth.ToString(Invariant),
                line.Utilization.ToString("0%", Invariant),
                Ms(line.WorkP50),
                Ms(line.WorkP99),
                Ms(line.EndToEndP50),
                Ms(line.EndToEndP99),
                Count(line.Errors, "yellow"),
                Count(line.Retries, "yellow"),
                Count(line.DeadLettered, "red"),
                line.Superseded.ToString(Invariant),
                Count(line.Dropped, "red"));
        }

        rows.Add(table);
        foreach (StageMetricsSnapshot stage in report.AllStages)
        {
            // Items that wait for their time (a rate limit's shaping, requeues): where they show.
            StageCounts c = stage.Counts;
            if (c.RateLimited + c.Requeued + c.Deferred + c.Delayed + c.WaitingDelayed > 0)
            {
                rows.Add(new Text(string.Create(Invariant, $"{stage.Stage}: depth runnable {c.WaitingRunnable}, delayed {c.WaitingDelayed}, retrying {c.WaitingRetry}; rate-limited {c.RateLimited}, requeued {c.Requeued}, deferred {c.Deferred}, delayed writes {c.Delayed}")));
            }
        }

        foreach (StageMetricsSnapshot stage in report.AllStages)
        {
            if (WindowLine.From(stage) is { } windows)
            {
                rows.Add(new Text(WindowText(windows)));
            }
        }

        foreach (LoopMetricsSnapshot loop in report.Loops)
        {
            rows.Add(new Text(string.Create(Invariant, $"loop {loop.Loop}: {loop.Runs} runs ({loop.FailedRuns} failed), last {loop.LastRunDuration.TotalMilliseconds:0} ms for {loop.LastRunItems} items")));
        }

        foreach (LimiterMetricsSnapshot limiter in report.Limiters)
        {
            rows.Add(new Text(string.Create(Invariant, $"limiter {limiter.Limiter}: {limiter.Held}/{limiter.MaxConcurrency} held, {limiter.Waiting} waiting, wait p99 {limiter.WaitTime.P99:0.00} ms")));
        }

        foreach (ReporterStatus status in report.Reporters.Where(r => r.Reporter != Name))
        {
            string delivery = status.Delivery is { } d ? string.Create(Invariant, $", {d.Sent} points sent, {d.Buffered} buffered, {d.Dropped} dropped") : string.Empty;
            rows.Add(new Text(string.Create(Invariant, $"reporter {status.Reporter} before this report: {status.Succeeded} flushes ok, {status.Failed} failed{delivery}")));
        }

        return new Rows(rows);
    }

    /// <summary>A keyed window step's line: windows open now, emitted, flushed early, and the interval's mean window and worst lateness p99.</summary>
    private static string WindowText(WindowLine line) =>
        string.Create(Invariant, $"windows {line.Stage}: {line.Counts.Open} open, {line.Counts.Emitted} emitted ({line.MeanItems:0.0} items each), {line.Counts.EarlyFlushes} flushed early, lateness p99 {line.LatenessP99:0.00} ms");

    private static string Ms(double? milliseconds) => milliseconds is { } ms ? ms.ToString(ms >= 100 ? "0" : "0.00", Invariant) : "-";

    private static string Count(long value, string color) => value == 0 ? "0" : $"[{color}]{value.ToString(Invariant)}[/]";
}
