using System.Diagnostics;
using System.Globalization;
using Engine.Retry;
using Engine.Stages;

// A small sample run of one keyed stage: a skewed stream of entity updates, a handler with simulated
// I/O, a few transient failures (retried) and rarer permanent ones (dead-lettered). It prints the
// stage's counts each second and ends with one machine-readable summary line. The full demo with a
// multi-stage pipeline and live metrics is tracked separately.
var duration = TimeSpan.FromSeconds(args.Length > 0 && double.TryParse(args[0], CultureInfo.InvariantCulture, out double seconds) && seconds > 0 ? seconds : 5);
var random = new Random(42);
long deadLettered = 0;

await using var stage = Stage.Create(
    new StageOptions<Update>
    {
        Name = "enrich",
        Shards = 8,
        WorkersPerShard = 2,
        Capacity = 256,
        KeySelector = u => u.Entity,
        Retry = new RetryOptions { MaxAttempts = 4, BaseDelay = TimeSpan.FromMilliseconds(5), IsTransient = ex => ex is TimeoutException },
        OnDeadLetter = (_, _) => Interlocked.Increment(ref deadLettered),
    },
    async (update, ct) =>
    {
        await Task.Delay(update.CostMs, ct);
        if (update.Version % 97 == 13 && update.CostMs == 1)
        {
            throw new TimeoutException("simulated transient failure");
        }

        if (update.Version % 1009 == 500)
        {
            throw new InvalidOperationException("simulated permanent failure");
        }
    });

var clock = Stopwatch.StartNew();
var nextReport = TimeSpan.FromSeconds(1);
int version = 0;
while (clock.Elapsed < duration)
{
    // A few hot entities, a long tail.
    int entity = random.NextDouble() < 0.5 ? random.Next(10) : random.Next(10, 5000);
    await stage.WriteAsync(new Update($"entity-{entity}", ++version, random.Next(1, 3)));
    if (clock.Elapsed >= nextReport)
    {
        Print(stage.GetCounts(), clock.Elapsed);
        nextReport += TimeSpan.FromSeconds(1);
    }
}

StageCounts counts = await stage.StopAsync(TimeSpan.FromSeconds(10));
Print(counts, clock.Elapsed);
Console.WriteLine(
    $"summary: accepted={counts.Accepted} processed={counts.Processed} dropped={counts.Dropped} dead_lettered={counts.DeadLettered} abandoned={counts.Abandoned} conserved={(counts.IsConserved && counts.Pending == 0 ? "true" : "false")}");
return counts.IsConserved && counts.Pending == 0 ? 0 : 1;

static void Print(StageCounts c, TimeSpan elapsed) => Console.WriteLine(
    $"{elapsed.TotalSeconds,5:F1}s accepted={c.Accepted} processed={c.Processed} retries={c.Retries} dead={c.DeadLettered} in_flight={c.InFlight} waiting={c.Waiting}");

internal readonly record struct Update(string Entity, int Version, int CostMs);
