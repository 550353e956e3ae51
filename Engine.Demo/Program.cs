using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Engine;
using Engine.Demo;
using Engine.Limiters;
using Engine.Loops;
using Engine.Pipelines;
using Engine.Reporting;
using Engine.Stages;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Spectre.Console;

// The demo: a skewed stream of entity state updates through the demo pipeline (DemoPipeline) plus a
// periodic resync loop, reported live (a redrawn table on a terminal, plain lines otherwise, and
// optionally InfluxDB), ending with a machine-readable summary line (with InfluxDB, the line before it
// says how many points never made it there).
var commandLine = new DemoCommandLine();
ParseResult parsed = commandLine.Root.Parse(args);
if (parsed.Errors.Count > 0)
{
    Console.Error.WriteLine($"error: {parsed.Errors[0].Message}");
    return 2;
}

if (parsed.Action is not null)
{
    // --help (or --version): System.CommandLine prints it.
    return await parsed.InvokeAsync();
}

DemoOptions options = commandLine.Read(parsed);
if (options.Nats is not null)
{
    // One member, producer or status of a distributed stage on NATS JetStream (docs/scale-out.md).
    return await NatsDemo.RunAsync(options);
}

var random = new Random(options.Seed);
using var limiter = ConcurrencyLimiter.Create(new ConcurrencyLimiterOptions { Name = "enrich-io", MaxConcurrency = 16 });
using var stop = new CancellationTokenSource();

// The generic host's console lifetime turns Ctrl+C (SIGINT), SIGTERM (how containers and systemd stop
// a process) and SIGQUIT into ApplicationStopping without ending the process, so each of them stops the
// load, drains the pipeline and still prints the summary and its exit code.
HostApplicationBuilder hostBuilder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
hostBuilder.Logging.ClearProviders();
hostBuilder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);
using IHost host = hostBuilder.Build();
await host.StartAsync();
using CancellationTokenRegistration onSignal = host.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping.Register(stop.Cancel);

await using Pipeline<StateUpdate> pipeline = DemoPipeline.Build(options, limiter);
var workload = new Workload(random, options.Entities);
await using PeriodicLoop resync = PeriodicLoop.Start(
    new PeriodicLoopOptions { Name = "resync", Interval = TimeSpan.FromSeconds(2) },
    async ct =>
    {
        int written = 0;
        foreach (StateUpdate update in workload.Resync(50))
        {
            await pipeline.WriteAsync(update, ct);
            written++;
        }

        return new LoopRun(written, 0);
    });

// A redrawn view only where someone watches a terminal; plain lines for logs and CI.
bool live = !options.NoLive && !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;
LiveView? view = live ? new LiveView(AnsiConsole.Console, options, DateTimeOffset.UtcNow) : null;
var reporting = MetricsReporting.Create(new MetricsReportingOptions
    {
        Tags = GlobalTags.Default() with { App = "engine-demo" },
        Logger = live ? NullLogger.Instance : new StandardErrorLogger(),
    })
    .Add(pipeline).Add(resync).Add(limiter)
    .AddReporter(view ?? (IMetricsReporter)new ConsoleReporter(new ConsoleReporterOptions { FlushInterval = options.ReportInterval }));
InfluxDbReporter? influx = null;
if (options.Influx is not null)
{
    reporting.AddReporter(influx = new InfluxDbReporter(new InfluxDbReporterOptions
    {
        Url = options.Influx,
        Database = options.InfluxDatabase,
        Organization = options.InfluxOrganization,
        Bucket = options.InfluxBucket,
        Token = options.InfluxToken,
        FlushInterval = options.ReportInterval,
    }));
}

view?.Start();
reporting.Start();

// With --soak, the process is sampled on its own timer from here on, so a producer that stalls is seen.
await using SoakMonitor? soak = options.Soak
    ? SoakMonitor.Start(() => pipeline.GetCounts().Stages[0].Counts.Accepted, options.ReportInterval, options.Rate, Console.Out)
    : null;
var clock = Stopwatch.StartNew();
var pacer = new Pacer(options.Rate, TimeProvider.System);
long offered = 0;
bool interrupted = false;
try
{
    while (clock.Elapsed < options.Duration && !stop.IsCancellationRequested)
    {
        await pipeline.WriteAsync(workload.Next(), stop.Token);
        offered++;
        await pacer.WaitAsync(offered, stop.Token);
    }

    if (soak is not null)
    {
        // The idle phase: the pipeline, the resync loop and the reporters keep running without the load.
        soak.BeginIdle();
        await Task.Delay(options.Idle, stop.Token);
    }
}
catch (OperationCanceledException) when (stop.IsCancellationRequested)
{
    interrupted = true;
}

int stalledIntervals = soak is null ? 0 : await soak.FinishAsync();
await resync.StopAsync();

// Drain for up to 10 s, saying what is left each report interval (in the view's header when live).
Task<PipelineCounts> draining = pipeline.StopAsync(TimeSpan.FromSeconds(10)).AsTask();
while (!draining.IsCompleted)
{
    PipelineCounts now = pipeline.GetCounts();
    long left = now.Stages.Sum(s => s.Counts.Pending);
    if (left == 0)
    {
        await Task.WhenAny(draining, Task.Delay(TimeSpan.FromMilliseconds(50)));
        continue;
    }

    string status = string.Create(CultureInfo.InvariantCulture, $"draining… {left} items left ({string.Join(", ", now.Stages.Where(s => s.Counts.Pending > 0).Select(s => $"{s.Stage}={s.Counts.Pending}"))})");
    if (view is not null)
    {
        view.Status = status;
    }
    else
    {
        Console.WriteLine(status);
    }

    await Task.WhenAny(draining, Task.Delay(options.ReportInterval));
}

PipelineCounts counts = await draining;
await reporting.StopAsync();   // one final flush: the view ends on the final figures, InfluxDB gets them too
if (view is not null)
{
    await view.EndAsync();
}

if (interrupted)
{
    Console.WriteLine("stopped by a signal (Ctrl+C or SIGTERM): drained for up to 10 s");
}

await host.StopAsync();

// Stopping disposed the InfluxDB reporter: what it still held is counted as abandoned, so these figures are final.
long undelivered = 0;
if (influx is not null)
{
    DeliveryStatistics delivery = influx.Delivery;
    undelivered = delivery.Abandoned + delivery.Dropped + delivery.Rejected;
    Console.WriteLine(string.Create(
        CultureInfo.InvariantCulture,
        $"influx: {undelivered} points never made it into InfluxDB ({delivery.Abandoned} abandoned at stop, {delivery.Dropped} dropped from a full buffer, {delivery.Rejected} rejected as malformed); {delivery.Sent} sent"));
}

// The pipeline's own snapshot interval started with the pipeline: its end-to-end p99 covers the whole run.
double p99 = pipeline.TakeMetricsSnapshot().EndToEnd.P99;
long Sum(Func<StageCounts, long> figure) => counts.Stages.Sum(s => figure(s.Counts));
bool conserved = counts.Stages.All(s => s.Counts.IsConserved && s.Counts.Pending == 0);
Console.WriteLine(string.Create(
    CultureInfo.InvariantCulture,
    $"summary: accepted={Sum(c => c.Accepted)} processed={Sum(c => c.Processed)} superseded={Sum(c => c.Superseded)} dropped={Sum(c => c.Dropped)} dead_lettered={Sum(c => c.DeadLettered)} abandoned={Sum(c => c.Abandoned)} e2e_p99_ms={p99:F1} conserved={(conserved ? "true" : "false")}"));
return !conserved ? 1 : options.RequireDelivery && undelivered > 0 ? 3 : stalledIntervals > 0 ? 4 : 0;
