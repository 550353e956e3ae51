using System.Diagnostics;
using System.Globalization;
using Engine.Demo;
using Engine.Dedupe;
using Engine.Limiters;
using Engine.Loops;
using Engine.Metrics;
using Engine.Pipelines;
using Engine.Retry;
using Engine.Stages;

// The demo pipeline: a skewed stream of entity state updates through ingest (dedupe) → enrich
// (simulated I/O behind a concurrency limiter, transient and permanent failures) → detect (CPU work,
// alerts re-keyed by namespace) → batch → store, plus a periodic resync loop. It prints one line per
// stage every second and ends with a machine-readable summary line.
DemoOptions options;
try
{
    options = DemoOptions.Parse(args);
}
catch (ArgumentException ex)
{
    Console.Error.WriteLine($"error: {ex.Message}");
    return 2;
}

if (options.Help)
{
    Console.WriteLine(DemoOptions.Usage);
    return 0;
}

var random = new Random(options.Seed);
var endToEnd = new List<double>();
using var limiter = ConcurrencyLimiter.Create(new ConcurrencyLimiterOptions { Name = "enrich-io", MaxConcurrency = 16 });
using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stop.Cancel();
};

await using Pipeline<StateUpdate> pipeline = Pipeline.Create<StateUpdate>("demo")
    .Then<StateUpdate>(
        "ingest",
        (u, _) => ValueTask.FromResult(u),
        o =>
        {
            o.KeySelector = u => u.Entity;
            o.Shards = options.Shards;
            o.Capacity = options.Capacity;
            o.KindSelector = u => u.Kind;
            o.Dedupe = new DedupeOptions<StateUpdate> { Mode = DedupeMode.Replace, ContentHash = u => u.ContentHash, IsTombstone = u => u.Deleted };
        })
    .Then<StateUpdate>(
        "enrich",
        async (u, ct) =>
        {
            using ConcurrencyLimiter.Lease lease = await limiter.AcquireAsync(ct);
            await Task.Delay(TimeSpan.FromMilliseconds(1 + (u.Version % 3)), ct);
            double roll = Random.Shared.NextDouble();
            if (roll < 0.02)
            {
                throw new TimeoutException("simulated transient failure");
            }

            if (roll < 0.022)
            {
                throw new InvalidDataException("simulated permanent failure");
            }

            return u;
        },
        o =>
        {
            o.KeySelector = u => u.Entity;
            o.Shards = options.Shards;
            o.WorkersPerShard = options.Workers;
            o.Capacity = options.Capacity;
            o.Retry = new RetryOptions { MaxAttempts = 4, BaseDelay = TimeSpan.FromMilliseconds(20), IsTransient = ex => ex is TimeoutException };
        })
    .Then<Alert>(
        "detect",
        (u, emit, _) =>
        {
            // CPU work standing in for rule evaluation; 0..2 alerts keyed by namespace.
            ulong h = u.ContentHash;
            for (int i = 0; i < 200; i++)
            {
                h = (h ^ (h >> 31)) * 0x9E3779B97F4A7C15UL;
            }

            for (int i = 0; i < (int)(h % 3); i++)
            {
                emit(new Alert(u.Namespace, u.Entity, (int)(h % 100)));
            }

            return default;
        },
        o =>
        {
            o.KeySelector = a => a.Namespace;
            o.Shards = options.Shards;
            o.Capacity = options.Capacity;
        })
    .Batch("batch", size: 100, window: TimeSpan.FromMilliseconds(500))
    .Sink(
        "store",
        async (alerts, ctx, ct) =>
        {
            await Task.Delay(2, ct);
            lock (endToEnd)
            {
                endToEnd.Add(ctx.Age.TotalMilliseconds);
            }
        },
        o => o.Capacity = 64)
    .Build();

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

var clock = Stopwatch.StartNew();
var nextReport = TimeSpan.FromSeconds(1);
var pace = TimeSpan.FromSeconds(1.0 / Math.Max(1, options.Rate));
long written = 0;
try
{
    while (clock.Elapsed < options.Duration && !stop.IsCancellationRequested)
    {
        await pipeline.WriteAsync(workload.Next(), stop.Token);
        written++;
        if (options.Rate > 0 && clock.Elapsed < pace * written)
        {
            await Task.Delay(pace * written - clock.Elapsed, stop.Token);
        }

        if (clock.Elapsed >= nextReport)
        {
            Report(pipeline.TakeMetricsSnapshot(), clock.Elapsed);
            nextReport += options.ReportInterval;
        }
    }
}
catch (OperationCanceledException) when (stop.IsCancellationRequested)
{
    Console.WriteLine("stopping (Ctrl+C): draining for up to 10 s");
}

await resync.StopAsync();
PipelineCounts counts = await pipeline.StopAsync(TimeSpan.FromSeconds(10));
Report(pipeline.TakeMetricsSnapshot(), clock.Elapsed);

long Sum(Func<StageCounts, long> figure) => counts.Stages.Sum(s => figure(s.Counts));
bool conserved = counts.Stages.All(s => s.Counts.IsConserved && s.Counts.Pending == 0);
double p99;
lock (endToEnd)
{
    endToEnd.Sort();
    p99 = endToEnd.Count == 0 ? 0 : endToEnd[Math.Min(endToEnd.Count - 1, (int)Math.Ceiling(endToEnd.Count * 0.99) - 1)];
}

Console.WriteLine(string.Create(
    CultureInfo.InvariantCulture,
    $"summary: accepted={Sum(c => c.Accepted)} processed={Sum(c => c.Processed)} superseded={Sum(c => c.Superseded)} dropped={Sum(c => c.Dropped)} dead_lettered={Sum(c => c.DeadLettered)} abandoned={Sum(c => c.Abandoned)} e2e_p99_ms={p99:F1} conserved={(conserved ? "true" : "false")}"));
return conserved ? 0 : 1;

static void Report(PipelineMetricsSnapshot snapshot, TimeSpan elapsed)
{
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"--- {elapsed.TotalSeconds,5:F1}s  end-to-end p99 {snapshot.EndToEnd.P99,7:F1} ms"));
    foreach (StageMetricsSnapshot s in snapshot.Stages)
    {
        Console.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"{s.Stage,-7} {s.ProcessedPerSecond,8:F0}/s depth {s.Depth,5} (max shard {s.MaxShardDepth,4}) util {s.Utilization,4:P0} work p50/p99 {s.WorkDuration.P50,6:F2}/{s.WorkDuration.P99,7:F2} ms " +
            $"err {s.Counts.HandlerErrors,4} retry {s.Counts.Retries,4} dead {s.Counts.DeadLettered,3} superseded {s.Counts.Superseded,6} dropped {s.Counts.Dropped}"));
    }
}
