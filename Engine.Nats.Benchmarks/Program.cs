// End-to-end throughput of a distributed stage (publish -> consume -> local stage -> ack) with 1, 2 and
// 3 member processes, beside the in-process Stage doing the same work. Starts its own nats-server -js
// (file store, loopback) for each run. Usage:
//   dotnet run -c Release --project Engine.Nats.Benchmarks [-- --items 50000 --keys 1000 --partitions 16 --runs 1]
// Everything shares this machine's cores: server, producer and members.
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Engine.Nats;
using Engine.Nats.Benchmarks;
using Engine.Stages;
using NATS.Client.Core;

int items = Argument("items", 50_000);
int keys = Argument("keys", 1000);
int partitions = Argument("partitions", 16);
int runs = Argument("runs", 1);
string server = File.Exists("/usr/sbin/nats-server") ? "/usr/sbin/nats-server" : "nats-server";
string memberDll = Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "Engine.Nats.Member", "bin", "Release", "net10.0", "Engine.Nats.Member.dll");
if (!File.Exists(memberDll))
{
    memberDll = Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "Engine.Nats.Member", "bin", "Debug", "net10.0", "Engine.Nats.Member.dll");
}

Console.WriteLine($"items {items}, keys {keys}, partitions {partitions}, cores {Environment.ProcessorCount}, runs {runs}");
Console.WriteLine("| setup | publish only (msgs/s) | end to end (msgs/s) |");
Console.WriteLine("|---|---|---|");
for (int run = 0; run < runs; run++)
{
    Console.WriteLine($"| in-process Stage ({partitions} shards) | - | {await InProcessAsync():N0} |");
    foreach (int members in new[] { 0, 1, 2, 3 })
    {
        (double publish, double endToEnd) = await DistributedAsync(members);
        Console.WriteLine(members == 0
            ? $"| no member (publish alone) | {publish:N0} | - |"
            : $"| {members} member process{(members > 1 ? "es" : "")} | {publish:N0} | {endToEnd:N0} |");
    }
}

return 0;

async Task<double> InProcessAsync()
{
    long done = 0;
    await using Stage<BenchItem> stage = Stage.Create(
        new StageOptions<BenchItem> { Name = "bench", Shards = partitions, WorkersPerShard = 4, KeySelector = i => i.Key },
        (BenchItem _, CancellationToken _) => { Interlocked.Increment(ref done); return ValueTask.CompletedTask; });
    var clock = Stopwatch.StartNew();
    foreach (BenchItem item in Items())
    {
        await stage.WriteAsync(item);
    }

    stage.Complete();
    await stage.Completion;
    return items / clock.Elapsed.TotalSeconds;
}

async Task<(double Publish, double EndToEnd)> DistributedAsync(int members)
{
    string directory = Path.Combine(Path.GetTempPath(), "engine-nats-bench-" + Guid.NewGuid().ToString("N"));
    Directory.CreateDirectory(directory);
    int port = FreePort();
    string config = Path.Combine(directory, "nats.conf");
    await File.WriteAllTextAsync(config, $"listen: \"127.0.0.1:{port}\"\njetstream {{ store_dir: \"{Path.Combine(directory, "store")}\" }}\n");
    using var nats = new ChildProcess(server, ["-c", config], "Server is ready");
    await nats.Ready.WaitAsync(TimeSpan.FromSeconds(30));
    string url = $"nats://127.0.0.1:{port}";
    var children = new List<ChildProcess>();
    try
    {
        var options = new NatsStageOptions<BenchItem> { Name = "bench", Partitions = partitions, KeySelector = i => i.Key };
        await using var connection = new NatsConnection(new NatsOpts { Url = url });
        NatsStageWriter<BenchItem> writer = await NatsStage.CreateWriterAsync(connection, options);
        var balanced = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var finished = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void Check()
        {
            if (children.Count == members && children.All(c => c.Owned.Split(',', StringSplitOptions.RemoveEmptyEntries).Length >= partitions / members))
            {
                balanced.TrySetResult();
            }

            if (children.Sum(c => c.Count) >= items)
            {
                finished.TrySetResult();
            }
        }

        for (int m = 0; m < members; m++)
        {
            var child = new ChildProcess("dotnet", [memberDll, "--url", url, "--stage", "bench", "--partitions", partitions.ToString(CultureInfo.InvariantCulture), "--member", "m" + m, "--report", "500", "--max-ack-pending", "1000"], "ready");
            child.Counted += Check;
            children.Add(child);
            await child.Ready.WaitAsync(TimeSpan.FromSeconds(60));
        }

        Check();
        if (members == 0)
        {
            balanced.TrySetResult();
        }

        await balanced.Task.WaitAsync(TimeSpan.FromSeconds(60));

        var clock = Stopwatch.StartNew();
        await writer.WriteManyAsync(Items(), maxInFlight: 1000);
        double publish = items / clock.Elapsed.TotalSeconds;
        if (members == 0)
        {
            return (publish, 0);
        }

        await finished.Task.WaitAsync(TimeSpan.FromMinutes(5));
        double endToEnd = items / clock.Elapsed.TotalSeconds;
        await Task.WhenAll(children.Select(c => c.TerminateAsync()));
        return (publish, endToEnd);
    }
    finally
    {
        foreach (ChildProcess child in children)
        {
            child.Dispose();
        }

        nats.Kill();
        Directory.Delete(directory, recursive: true);
    }
}

IEnumerable<BenchItem> Items()
{
    var next = new long[keys];
    for (int i = 0; i < items; i++)
    {
        int k = i % keys;
        yield return new BenchItem("k" + k.ToString(CultureInfo.InvariantCulture), ++next[k]);
    }
}

int Argument(string name, int fallback)
{
    int at = Array.IndexOf(args, "--" + name);
    return at >= 0 && at + 1 < args.Length ? int.Parse(args[at + 1], CultureInfo.InvariantCulture) : fallback;
}

static int FreePort()
{
    var listener = new TcpListener(IPAddress.Loopback, 0);
    listener.Start();
    int port = ((IPEndPoint)listener.LocalEndpoint).Port;
    listener.Stop();
    return port;
}
