using System.Diagnostics;
using System.Globalization;
using Engine.Dedupe;
using Engine.Limiters;
using Engine.Nats;
using Engine.Stages;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NATS.Client.Core;

namespace Engine.Demo;

/// <summary>
/// The demo as part of one distributed stage on NATS JetStream (<c>--nats</c>): members that handle the
/// demo's updates with its enrich and detect work (<c>--member</c>), a producer that writes its workload
/// (<c>--produce</c>), and a status that checks, from the server alone, that every stored item was
/// settled (<c>--status</c>). Output is plain lines (a member's figures change with its partitions,
/// which a fixed table would not show), ending with a <c>summary:</c> line.
/// </summary>
internal static class NatsDemo
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    /// <summary>Runs the mode the options chose; the exit code is 0 on success, 1 when --status finds items not settled, 4 when the server or stage refused.</summary>
    public static async Task<int> RunAsync(DemoOptions options)
    {
        string client = options.Member is { } member ? "engine-demo-" + member : options.Produce ? "engine-demo-producer" : "engine-demo-status";
        await using var connection = new NatsConnection(new NatsOpts { Url = options.Nats!, Name = client });
        try
        {
            return options.Status ? await StatusAsync(connection, options)
                : options.Produce ? await ProduceAsync(connection, options)
                : await MemberAsync(connection, options);
        }
        catch (OperationCanceledException)
        {
            // Ctrl+C or SIGTERM while joining or setting up (the server slow to answer, say): nothing was taken.
            Console.Error.WriteLine("stopped by a signal before it started");
            return 0;
        }
        catch (NatsStageConfigurationException ex)
        {
            Console.Error.WriteLine("error: " + ex.Message);
            return 4;
        }
        catch (NatsException ex)
        {
            // Includes a publish the server rejected (NatsStagePublishException) and a server that never answered.
            Console.Error.WriteLine("error: " + ex.Message);
            return 4;
        }
    }

    /// <summary>
    /// The distributed stage's options. Members and producers must agree on the partition count and on
    /// latest-per-key (the Replace dedupe below), which the stage checks; the lease TTL also sets the
    /// heartbeat and lease buckets' expiry, which every member and producer (re)declares, so they pass
    /// the same <c>--lease-ttl</c>.
    /// </summary>
    private static NatsStageOptions<StateUpdate> StageOptions(DemoOptions options, Action<StateUpdate, ItemFailure>? onDeadLetter = null) => new()
    {
        Name = options.Stage,
        Partitions = options.Partitions,
        KeySelector = u => u.Entity,
        MemberName = options.Member,
        LeaseTtl = options.LeaseTtl,
        Logger = new StandardErrorLogger(),
        LocalStage = new StageOptions<StateUpdate>
        {
            // A partition is already a shard of the distributed stage: one local shard, the demo's workers.
            Shards = 1,
            WorkersPerShard = options.Workers,
            UnkeyedWorkers = options.Workers,
            Capacity = options.Capacity,
            Retry = DemoPipeline.EnrichRetry(),

            // The in-process demo's ingest dedupe: a newer update of an entity replaces an older one still
            // waiting (on the server too: each partition keeps the latest message per entity), and an
            // update identical to the last one handled is superseded.
            Dedupe = new DedupeOptions<StateUpdate> { Mode = DedupeMode.Replace, ContentHash = u => u.ContentHash, IsTombstone = u => u.Deleted },
            OnDeadLetter = onDeadLetter,
        },
    };

    /// <summary>
    /// The generic host's console lifetime, as in the in-process demo: Ctrl+C, SIGTERM and SIGQUIT become
    /// ApplicationStopping without ending the process, so a member leaves gracefully and prints its summary.
    /// </summary>
    private static async Task<IHost> StartHostAsync()
    {
        HostApplicationBuilder builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders();
        builder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);
        IHost host = builder.Build();
        await host.StartAsync();
        return host;
    }

    private static async Task<int> MemberAsync(NatsConnection connection, DemoOptions options)
    {
        using IHost host = await StartHostAsync();
        CancellationToken stopping = host.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;
        using var limiter = ConcurrencyLimiter.Create(new ConcurrencyLimiterOptions { Name = "enrich-io", MaxConcurrency = 16 });
        long handled = 0;
        long alerts = 0;
        long errors = 0;
        long deadLettered = 0;
        NatsStageOptions<StateUpdate> stageOptions = StageOptions(options, (_, _) => Interlocked.Increment(ref deadLettered));

        // The in-process demo's enrich and detect work on each item. A message is acknowledged only once
        // this returns (or the item is dead-lettered or superseded), so an item runs again on another
        // member if this one dies first.
        await using NatsStageMember<StateUpdate> member = await NatsStage.StartMemberAsync<StateUpdate>(connection, stageOptions, async (u, _, ct) =>
        {
            try
            {
                await DemoPipeline.EnrichAsync(u, limiter, ct);
            }
            catch (Exception ex) when (ex is TimeoutException or InvalidDataException)
            {
                Interlocked.Increment(ref errors);
                throw;
            }

            int raised = 0;
            DemoPipeline.Detect(u, _ => raised++);
            Interlocked.Add(ref alerts, raised);
            Interlocked.Increment(ref handled);
        }, stopping);

        Console.WriteLine(string.Create(Invariant, $"member {member.MemberName} joined stage {member.Name}: {member.Partitions} partitions, lease {options.LeaseTtl.TotalSeconds:0.###} s; Ctrl+C or SIGTERM leaves gracefully"));
        int[] shown = [];
        var gate = new Lock();
        void ShowOwnership()
        {
            lock (gate)
            {
                int[] owned = [.. member.OwnedPartitions];
                if (owned.SequenceEqual(shown))
                {
                    return;
                }

                int[] taken = [.. owned.Except(shown)];
                int[] released = [.. shown.Except(owned)];
                shown = owned;
                Console.WriteLine(string.Create(Invariant, $"owned {List(owned)} ({owned.Length} of {member.Partitions})")
                    + (taken.Length > 0 ? " · took " + List(taken) : string.Empty)
                    + (released.Length > 0 ? " · released " + List(released) : string.Empty)
                    + " · members " + string.Join(',', member.LiveMembers));
            }
        }

        member.OwnershipChanged += (_, _) => ShowOwnership();
        ShowOwnership();

        // Live figures every report interval until a signal: what this member did and what its
        // partitions hold on the server.
        var clock = Stopwatch.StartNew();
        var last = (Handled: 0L, At: TimeSpan.Zero);
        var leave = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using CancellationTokenRegistration onSignal = stopping.Register(leave.SetResult);
        while (!leave.Task.IsCompleted)
        {
            await Task.WhenAny(leave.Task, Task.Delay(options.ReportInterval));
            if (leave.Task.IsCompleted)
            {
                break;
            }

            NatsStageSnapshot? snapshot = await SnapshotAsync(member, options.ReportInterval);
            IEnumerable<NatsPartitionSnapshot> mine = snapshot?.Partitions.Where(p => p.OwnedHere) ?? [];
            long now = Interlocked.Read(ref handled);
            double rate = (now - last.Handled) / Math.Max(0.001, (clock.Elapsed - last.At).TotalSeconds);
            last = (now, clock.Elapsed);
            string server = snapshot is null ? "server figures unavailable" : string.Create(Invariant, $"backlog {mine.Sum(p => Math.Max(0, p.Pending))} · in flight {mine.Sum(p => p.HeldLocally)}");
            Console.WriteLine(string.Create(
                Invariant,
                $"member {member.MemberName} · {member.OwnedPartitions.Count} of {member.Partitions} partitions · handled {now} ({rate:0}/s) · alerts {Interlocked.Read(ref alerts)} · errors {Interlocked.Read(ref errors)} · dead-lettered {Interlocked.Read(ref deadLettered)} · {server}"));
        }

        Console.WriteLine("leaving: finishing and acknowledging what this member holds, then handing its partitions over");
        var leaving = Stopwatch.StartNew();
        await member.LeaveAsync();
        NatsStageSnapshot? final = await SnapshotAsync(member, TimeSpan.FromSeconds(2));
        string acked = final is null ? "?" : final.Partitions.Sum(p => p.Acked).ToString(Invariant);
        string taken = final is null ? "?" : final.Partitions.Sum(p => p.Handovers).ToString(Invariant);
        string lost = final is null ? "?" : final.LeasesLost.ToString(Invariant);
        Console.WriteLine(string.Create(Invariant, $"left in {leaving.Elapsed.TotalSeconds:0.0} s; run --status for the whole stage"));
        Console.WriteLine(string.Create(
            Invariant,
            $"summary: member={member.MemberName} handled={Interlocked.Read(ref handled)} alerts={Interlocked.Read(ref alerts)} errors={Interlocked.Read(ref errors)} dead_lettered={Interlocked.Read(ref deadLettered)} acked={acked} partitions_taken={taken} leases_lost={lost}"));
        await host.StopAsync();
        return 0;
    }

    /// <summary>The member's snapshot, or null when the server does not answer in time (the live line says so).</summary>
    private static async Task<NatsStageSnapshot?> SnapshotAsync(NatsStageMember<StateUpdate> member, TimeSpan patience)
    {
        using var timeout = new CancellationTokenSource(patience + TimeSpan.FromSeconds(1));
        try
        {
            return await member.GetSnapshotAsync(timeout.Token);
        }
        catch (Exception ex) when (ex is NatsException or OperationCanceledException or TimeoutException)
        {
            return null;
        }
    }

    private static async Task<int> ProduceAsync(NatsConnection connection, DemoOptions options)
    {
        using IHost host = await StartHostAsync();
        CancellationToken stopping = host.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;
        NatsStageWriter<StateUpdate> writer = await NatsStage.CreateWriterAsync(connection, StageOptions(options), stopping);
        var workload = new Workload(new Random(options.Seed), options.Entities);
        string pace = options.Rate == 0 ? "as fast as the server takes them" : string.Create(Invariant, $"{options.Rate}/s");
        Console.WriteLine(string.Create(Invariant, $"producing to stage {writer.Name} ({writer.Partitions} partitions) for {options.Duration.TotalSeconds:0.#} s, {pace}, {options.Entities} entities"));
        var clock = Stopwatch.StartNew();
        var pacer = new Pacer(options.Rate, TimeProvider.System);
        TimeSpan nextReport = options.ReportInterval;
        long produced = 0;
        bool interrupted = false;
        while (clock.Elapsed < options.Duration)
        {
            if (stopping.IsCancellationRequested)
            {
                interrupted = true;
                break;
            }

            // The items due by now, in chunks: each chunk goes out with many PubAcks in flight (one key
            // never has two, so its order holds) and returns once every PubAck is in.
            long due = options.Rate == 0 ? produced + 1000 : (long)Math.Ceiling(options.Rate * clock.Elapsed.TotalSeconds);
            int count = (int)Math.Min(due - produced, 1000);
            if (count <= 0)
            {
                try
                {
                    // Until one more item is due: the pacer started just after the clock, so by then
                    // "due" has grown past "produced".
                    await pacer.WaitAsync(produced + 1, stopping);
                }
                catch (OperationCanceledException)
                {
                    interrupted = true;
                    break;
                }

                continue;
            }

            var chunk = new List<StateUpdate>(count);
            for (int i = 0; i < count; i++)
            {
                chunk.Add(workload.Next());
            }

            // Not cancelled by a signal: a chunk is small, and finishing it keeps "produced" exact.
            produced += await writer.WriteManyAsync(chunk, maxInFlight: 256, CancellationToken.None);
            if (clock.Elapsed >= nextReport)
            {
                Console.WriteLine(string.Create(Invariant, $"produced {produced} ({produced / clock.Elapsed.TotalSeconds:0}/s), every PubAck in"));
                nextReport += options.ReportInterval;
            }
        }

        if (interrupted)
        {
            Console.WriteLine("stopped by a signal (Ctrl+C or SIGTERM)");
        }

        Console.WriteLine(string.Create(Invariant, $"summary: produced={produced} stage={writer.Name} partitions={writer.Partitions} seconds={clock.Elapsed.TotalSeconds:0.0} rate={produced / Math.Max(0.001, clock.Elapsed.TotalSeconds):0}/s"));
        await host.StopAsync();
        return 0;
    }

    private static async Task<int> StatusAsync(NatsConnection connection, DemoOptions options)
    {
        // Engine.Nats' shared status: the same figures the member program's --status prints.
        NatsStageStatus status = await NatsStage.GetStatusAsync(connection, options.Stage);
        Console.WriteLine(string.Create(Invariant, $"stage {status.Stage}: {status.Partitions} partitions · live members {(status.LiveMembers.Count == 0 ? "none" : string.Join(',', status.LiveMembers))}"));
        IEnumerable<string> owners = status.Owners.Select((owner, p) => (owner, p)).GroupBy(o => o.owner ?? "(none)", StringComparer.Ordinal)
            .OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Key}={List([.. g.Select(o => o.p)])}");
        Console.WriteLine("owners: " + string.Join(" · ", owners));
        if (status.Remaining > 0)
        {
            Console.WriteLine("remaining by partition: " + string.Join(' ', status.RemainingByPartition.Select((n, p) => (n, p)).Where(x => x.n > 0).Select(x => string.Create(Invariant, $"p{x.p}={x.n}"))));
        }

        // Conserved overall: every item any producer stored was settled by some member (processed,
        // dead-lettered, or superseded by a newer update of its entity); nothing is left in the streams.
        bool conserved = status.Drained && status.DeadLettered <= status.Settled;
        Console.WriteLine(string.Create(
            Invariant,
            $"summary: stored={status.Stored} settled={status.Settled} remaining={status.Remaining} dead_lettered={status.DeadLettered} drained={(status.Drained ? "true" : "false")} conserved={(conserved ? "true" : "false")}"));
        return conserved ? 0 : 1;
    }

    /// <summary>Partitions as a short list: 0-3,8,10-11 (or "none").</summary>
    private static string List(int[] partitions)
    {
        if (partitions.Length == 0)
        {
            return "none";
        }

        var parts = new List<string>();
        int start = partitions[0];
        int previous = start;
        foreach (int p in partitions.Skip(1).Append(int.MinValue))
        {
            if (p == previous + 1)
            {
                previous = p;
                continue;
            }

            parts.Add(start == previous ? start.ToString(Invariant) : string.Create(Invariant, $"{start}-{previous}"));
            start = previous = p;
        }

        return string.Join(',', parts);
    }
}
