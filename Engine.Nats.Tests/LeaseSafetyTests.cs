using System.Diagnostics;
using System.Globalization;
using Engine.Nats.Tests.Support;

namespace Engine.Nats.Tests;

/// <summary>
/// Split brain under a pause and a network partition: member <c>a</c> (a child process) is frozen with
/// SIGSTOP, or cut off from the server on a network the test builds, for 2.5 lease TTLs under load;
/// member <c>b</c> takes its partitions; then <c>a</c> wakes or is reconnected. Every handler run of both
/// is logged with its partition, fencing token, lease deadline and monotonic start and end. No run may
/// start at or after its lease's safe deadline, an older owner of a partition may start nothing once a
/// newer one has started, nothing acknowledged is lost, counting each item's last run no key's item runs
/// after a later one of the key finished, reruns know they are reruns, and the takeover stays within
/// the documented bound.
/// </summary>
public class LeaseSafetyTests
{
    private const int Partitions = 8;
    private const int ItemCount = 3000;
    private const int Keys = 40;
    private static readonly TimeSpan Ttl = TestStage.LeaseTtl;
    private static readonly TimeSpan TakeoverBound = TestStage.TakeoverBound;

    [Test]
    public async Task A_member_frozen_past_its_lease_starts_no_run_after_its_safe_deadline()
    {
        await using NatsServer server = await NatsServer.StartNewAsync();
        await RunAsync(server, "pause", null, null, a => a.PauseAsync(), a => a.ResumeAsync(), "frozen");
    }

    [Test]
    public async Task A_member_cut_off_from_the_server_starts_no_run_after_its_safe_deadline()
    {
        await using NetworkLab lab = await NetworkLab.CreateAsync();
        await using NatsServer server = await NatsServer.StartInNamespaceAsync(lab.ServerSide, NetworkLab.ServerAddress);
        await RunAsync(server, "cut", lab.ServerSide, lab.MemberSide, _ => lab.CutAsync(), _ => lab.HealAsync(), "cut off");
    }

    private static async Task RunAsync(NatsServer server, string stage, string? stayingSide, string? faultySide, Func<MemberProcess, Task> fault, Func<MemberProcess, Task> heal, string what)
    {
        var runs = new RunLog();
        string partitions = Partitions.ToString(CultureInfo.InvariantCulture);
        string[] common =
        [
            "--url", server.Url, "--stage", stage, "--partitions", partitions, "--lease-ms", ((int)Ttl.TotalMilliseconds).ToString(CultureInfo.InvariantCulture),
            "--work-ms", "2", "--fail-every", "7", "--log-runs", "--max-ack-pending", "64", "--report", "50",
        ];
        await using MemberProcess a = await MemberProcess.StartAsync(faultySide, runs, [.. common, "--member", "a"]);
        await a.UntilAsync(m => Owned(m) == Partitions, "a owns every partition");
        await using MemberProcess b = await MemberProcess.StartAsync(stayingSide, runs, [.. common, "--member", "b"]);
        await a.UntilAsync(m => Owned(m) == Partitions / 2, "a hands half its partitions to b");
        await b.UntilAsync(m => Owned(m) == Partitions / 2, "b owns the other half");

        Task<(int ExitCode, string Output)> producing = MemberProcess.RunAsync(
            stayingSide, "--produce", ItemCount.ToString(CultureInfo.InvariantCulture), "--keys", Keys.ToString(CultureInfo.InvariantCulture), "--rate", "300",
            "--url", server.Url, "--stage", stage, "--partitions", partitions);
        await a.UntilAsync(m => m.Count >= 300, "a has handled 300 items");

        var sinceFault = Stopwatch.StartNew();
        await fault(a);
        TimeSpan takeover;
        try
        {
            await b.UntilAsync(m => Owned(m) == Partitions, $"b owns every partition while a is {what}");
            takeover = sinceFault.Elapsed;

            // The fault itself lasts 2.5 TTLs (this is its length, not a wait for something to happen):
            // long past a's leases, so a wakes, or gets the server back, to leases that lapsed long ago.
            TimeSpan rest = (Ttl * 2.5) - sinceFault.Elapsed;
            if (rest > TimeSpan.Zero)
            {
                await Task.Delay(rest);
            }
        }
        finally
        {
            await heal(a);
        }

        (int produced, string producerOutput) = await producing;
        Assert.That(producerOutput, Does.Contain($"produced {ItemCount}"), $"the producer's PubAcks (exit {produced})");
        await runs.AllDoneAsync(ItemCount).Within();
        await b.UntilAsync(m => Owned(m) == Partitions / 2, "b hands a its share again after the fault");
        await a.UntilAsync(m => Owned(m) == Partitions / 2, "a works its share again after the fault");
        await TestWait.PollAsync(() => MemberProcess.RunAsync(stayingSide, "--status", "--url", server.Url, "--stage", stage), r => r.ExitCode == 0, "every stored item settled (drained)");
        await a.LeaveAsync();
        await b.LeaveAsync();

        IReadOnlyList<Run> all = runs.Runs;
        List<Run> late = RunLog.LateStarts(all);
        List<string> overlaps = RunLog.Overlaps(all);
        List<string> stale = RunLog.StaleFinishes(all);
        List<Run> unflagged = RunLog.UnflaggedReruns(all);
        TestContext.Out.WriteLine(
            $"{what}: takeover {takeover.TotalMilliseconds:F0} ms (TTL {Ttl.TotalMilliseconds} ms, bound {TakeoverBound.TotalMilliseconds} ms); runs {all.Count} (a {all.Count(r => r.Member == "a")}, b {all.Count(r => r.Member == "b")}), " +
            $"cancelled {all.Count(r => r.Outcome == "cancel")}, duplicates {RunLog.Duplicates(all)}, flagged redelivered {all.Count(r => r.Redelivered)}; late starts {late.Count}, overlaps {overlaps.Count}, stale finishes {stale.Count}, unflagged reruns {unflagged.Count}");
        Assert.Multiple(() =>
        {
            Assert.That(late.Select(r => r.ToString()), Is.Empty, "no run started at or after its lease's safe deadline");
            Assert.That(overlaps.Take(20), Is.Empty, "an older owner of a partition started nothing once a newer one had started");
            Assert.That(RunLog.Lost(all, TestStage.Expected(TestStage.Items(ItemCount, Keys))), Is.Zero, "nothing acknowledged was lost");
            Assert.That(stale.Take(20), Is.Empty, "counting each item's last run, no key's item ran after a later item of the key finished");
            Assert.That(unflagged.Select(r => r.ToString()).Take(20), Is.Empty, "every rerun (not a local retry) was flagged as redelivered");
            Assert.That(takeover, Is.LessThan(TakeoverBound), "takeover within the documented bound");
        });
    }

    private static int Owned(MemberProcess member) => member.Owned.Split(',', StringSplitOptions.RemoveEmptyEntries).Length;
}
