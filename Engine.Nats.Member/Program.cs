// A member (or producer) of one distributed stage, as a separate process: the kill tests run it as a
// child and kill -9 it; the benchmark runs 1-3 of them; a demo can run it by hand (see README).
//
//   member:   Engine.Nats.Member --url nats://127.0.0.1:4222 --stage orders --member a [--partitions 16]
//             [--lease-ms 3000] [--work-ms 0] [--fail-every 0] [--results] [--max-ack-pending 256]
//   producer: Engine.Nats.Member --produce 10000 --keys 100 --url ... --stage orders [--rate 0]
//             (--rate N: about N items a second, in chunks every 50 ms; 0 = as fast as PubAcks come)
//   status:   Engine.Nats.Member --status --url ... --stage orders   (stored, settled, remaining, drained)
//
// A member prints "ready", then "count N" every --report items and "owned p1,p2,..." when its share
// changes; it leaves gracefully on SIGTERM or Ctrl+C (and with --stdin on stdin EOF or "leave"), printing "left". With --results each
// processed item is also written (awaiting the PubAck) to the stream {stage}_RESULTS as
// "key value member", so a test can check loss, order and duplicates across processes. With --log-runs
// every handler run (each attempt) prints, when it ends, one line
//   run {key} {value} {partition} {fencing token} {attempt} {redelivered 0|1} {start} {end} {lease deadline} {ok|fail|cancel}
// with Stopwatch timestamps (CLOCK_MONOTONIC on Linux, comparable across processes of one machine),
// so a test can check that no run started after its lease's safe deadline and order across members.
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Engine.Nats;
using Engine.Nats.Member;
using Engine.Retry;
using Engine.Stages;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;

var arguments = new MemberArguments(args);
string url = arguments.Text("url", "nats://127.0.0.1:4222");
string stage = arguments.Text("stage", "orders");
int partitions = (int)arguments.Number("partitions", 16);
await using var connection = new NatsConnection(new NatsOpts { Url = url, Name = "engine-member" });
var options = new NatsStageOptions<MemberItem>
{
    Name = stage,
    Partitions = partitions,
    KeySelector = item => item.Key,
    MemberName = arguments.Text("member", null!) is { } member ? member : null,
    LeaseTtl = TimeSpan.FromMilliseconds(arguments.Number("lease-ms", 3000)),
    MaxAckPending = (int)arguments.Number("max-ack-pending", 256),
    LocalStage = new StageOptions<MemberItem>
    {
        Shards = (int)arguments.Number("shards", 1),
        WorkersPerShard = (int)arguments.Number("workers", 4),
        Retry = new RetryOptions { MaxAttempts = 5, BaseDelay = TimeSpan.FromMilliseconds(20), MaxDelay = TimeSpan.FromMilliseconds(200) },
    },
};

if (arguments.Flag("status"))
{
    // Overall accounting from the server alone (shared with the demo's --status): every message ever
    // stored in a partition stream is either still there (not settled) or was acknowledged (processed,
    // superseded or dead-lettered). "drained=true" means nothing is left: every stored item was settled.
    NatsStageStatus status = await NatsStage.GetStatusAsync(connection, stage);
    Console.WriteLine(status.ToString());
    return status.Drained ? 0 : 1;
}

long produce = arguments.Number("produce", 0);
if (produce > 0)
{
    NatsStageWriter<MemberItem> writer = await NatsStage.CreateWriterAsync(connection, options);
    int keys = (int)arguments.Number("keys", 100);
    var next = new long[keys];
    IEnumerable<MemberItem> Items()
    {
        for (long i = 0; i < produce; i++)
        {
            int k = (int)(i % keys);
            yield return new MemberItem("k" + k.ToString(CultureInfo.InvariantCulture), ++next[k]);
        }
    }

    long rate = arguments.Number("rate", 0);
    int inFlight = (int)arguments.Number("in-flight", 256);
    long written = 0;
    if (rate <= 0)
    {
        written = await writer.WriteManyAsync(Items(), inFlight);
    }
    else
    {
        // Paced: a chunk every 50 ms, so the load is spread over the run (a fault lands mid-stream).
        using var pace = new PeriodicTimer(TimeSpan.FromMilliseconds(50));
        foreach (MemberItem[] chunk in Items().Chunk((int)Math.Max(1, rate / 20)))
        {
            await pace.WaitForNextTickAsync();
            written += await writer.WriteManyAsync(chunk, inFlight);
        }
    }

    Console.WriteLine($"produced {written}");
    return 0;
}

int workMs = (int)arguments.Number("work-ms", 0);
long failEvery = arguments.Number("fail-every", 0);
long report = arguments.Number("report", 100);
bool results = arguments.Flag("results");
bool logRuns = arguments.Flag("log-runs");
var js = new NatsJSContext(connection);
string resultsStream = stage + "_RESULTS";
if (results)
{
    await js.CreateOrUpdateStreamAsync(new StreamConfig(resultsStream, ["results." + stage]) { Storage = StreamConfigStorage.File });
}

long processed = 0;
string name = "?";
await using NatsStageMember<MemberItem> stageMember = await NatsStage.StartMemberAsync<MemberItem>(connection, options, async (item, context, ct) =>
{
    long start = Stopwatch.GetTimestamp();
    string outcome = "fail";
    try
    {
        await HandleAsync(item, context, ct);
        outcome = "ok";
    }
    catch (OperationCanceledException) when (ct.IsCancellationRequested)
    {
        outcome = "cancel";
        throw;
    }
    finally
    {
        if (logRuns)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"run {item.Key} {item.Value} {context.Partition} {context.FencingToken} {context.Engine.Attempt} {(context.Redelivered ? 1 : 0)} {start} {Stopwatch.GetTimestamp()} {context.LeaseDeadline} {outcome}"));
        }
    }
});

async ValueTask HandleAsync(MemberItem item, NatsItemContext context, CancellationToken ct)
{
    if (workMs > 0)
    {
        await Task.Delay(workMs, ct);
    }

    // A transient failure on the first attempt of every n-th value keeps retries pending under load.
    if (failEvery > 0 && item.Value % failEvery == 0 && context.Engine.Attempt == 1)
    {
        throw new TimeoutException("simulated transient failure");
    }

    if (results)
    {
        PubAckResponse ack = await js.PublishAsync("results." + stage, Encoding.UTF8.GetBytes($"{item.Key} {item.Value} {name} {context.FencingToken}"), cancellationToken: ct);
        ack.EnsureSuccess();
    }

    long n = Interlocked.Increment(ref processed);
    if (n % report == 0)
    {
        Console.WriteLine($"count {n}");
    }
}

name = stageMember.MemberName;

// Besides every --report items, the count is printed when it changed in the last --report-ms, so a
// watcher learns the final count even when it is not a multiple of --report.
long reportMs = arguments.Number("report-ms", 100);
_ = Task.Run(async () =>
{
    long printed = 0;
    using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(reportMs));
    while (await timer.WaitForNextTickAsync())
    {
        long now = Interlocked.Read(ref processed);
        if (now != printed)
        {
            printed = now;
            Console.WriteLine($"count {now}");
        }
    }
});
string lastOwned = "";
stageMember.OwnershipChanged += (_, _) =>
{
    string owned = string.Join(',', stageMember.OwnedPartitions);
    lock (stageMember)
    {
        if (owned != lastOwned)
        {
            lastOwned = owned;
            Console.WriteLine($"owned {owned}");
        }
    }
};

var leave = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
using PosixSignalRegistration term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
{
    context.Cancel = true;
    leave.TrySetResult();
});
using PosixSignalRegistration interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, context =>
{
    context.Cancel = true;
    leave.TrySetResult();
});
if (arguments.Flag("stdin"))
{
    // With --stdin, stdin closing or "leave" asks for a graceful leave (a test that kills -9 never gets here).
    _ = Task.Run(() =>
    {
        while (Console.ReadLine() is { } line)
        {
            if (line.Trim() == "leave")
            {
                break;
            }
        }

        leave.TrySetResult();
    });
}

Console.WriteLine($"ready {name}");
await leave.Task;
await stageMember.LeaveAsync();
Console.WriteLine($"left {Interlocked.Read(ref processed)}");
return 0;
