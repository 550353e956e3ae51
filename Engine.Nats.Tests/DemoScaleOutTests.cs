using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Engine.Nats.Tests.Support;

namespace Engine.Nats.Tests;

/// <summary>
/// README's scale-out flow, with the demo program itself as child processes against a real nats-server:
/// two members and a producer, kill -9 of one member mid-run, the other takes its partitions, and the
/// demo's --status finds every stored item settled (conserved=true).
/// </summary>
public partial class DemoScaleOutTests
{
    private const string Stage = "demo-t";
    private const int Partitions = 8;

    [GeneratedRegex(@"^summary: stored=(\d+) settled=(\d+) remaining=(\d+) dead_lettered=(\d+) drained=(true|false) conserved=(true|false)$", RegexOptions.Multiline)]
    private static partial Regex StatusSummary();

    [GeneratedRegex(@"^summary: produced=(\d+) stage=\S+ partitions=(\d+) ", RegexOptions.Multiline)]
    private static partial Regex ProducerSummary();

    [GeneratedRegex(@"^summary: member=b handled=(\d+) alerts=\d+ errors=\d+ dead_lettered=(\d+) acked=(\d+) partitions_taken=(\d+) leases_lost=(\d+)$", RegexOptions.Multiline)]
    private static partial Regex MemberSummary();

    [Test]
    public async Task Two_members_and_a_producer_one_killed_the_other_takes_its_partitions_and_the_stage_is_conserved()
    {
        await using NatsServer server = await NatsServer.StartNewAsync();
        var total = Stopwatch.StartNew();
        string lease = TestStage.LeaseTtl.TotalSeconds.ToString(CultureInfo.InvariantCulture);
        string[] common = ["--nats", server.Url, "--stage", Stage, "--partitions", Partitions.ToString(CultureInfo.InvariantCulture), "--lease-ttl", lease, "--report-interval", "0.2"];

        await using DemoProcess a = DemoProcess.Start([.. common, "--member", "a"]);
        await a.UntilAsync(m => m.Owned == Partitions, "a owns every partition");
        await using DemoProcess b = DemoProcess.Start([.. common, "--member", "b"]);
        await a.UntilAsync(m => m.Owned == Partitions / 2, "a hands half its partitions to b");
        await b.UntilAsync(m => m.Owned == Partitions / 2, "b owns the other half");

        // 8,000 updates over 4 s: the members keep up, so a dies with the load still coming.
        await using DemoProcess producer = DemoProcess.Start([.. common, "--produce", "--duration", "4", "--rate", "2000"]);
        await a.UntilAsync(m => m.Handled >= 300, "a has handled 300 updates");
        Assert.That(producer.HasExited, Is.False, "the kill is mid-run: the producer is still writing");
        await a.KillAsync();
        var sinceKill = Stopwatch.StartNew();
        await b.UntilAsync(m => m.Owned == Partitions, "b takes a's partitions after the kill");
        TimeSpan takeover = sinceKill.Elapsed;

        await producer.ExitAsync();
        Match produced = ProducerSummary().Match(producer.Output);
        Assert.That(producer.ExitCode, Is.Zero, producer.Output);
        Assert.That(produced.Success, Is.True, producer.Output);
        long written = long.Parse(produced.Groups[1].Value, CultureInfo.InvariantCulture);

        // The whole stage, from the server: polled (each poll a run of the demo's --status) until b has
        // settled everything, which it must within the patience.
        (int code, string output) = await TestWait.PollAsync(
            () => DemoProcess.RunAsync("--nats", server.Url, "--stage", Stage, "--status"),
            r => r.ExitCode == 0,
            "the demo's --status reports conserved=true");
        Match status = StatusSummary().Match(output);
        Assert.That(status.Success, Is.True, output);
        long Figure(int group) => long.Parse(status.Groups[group].Value, CultureInfo.InvariantCulture);

        await b.TerminateAsync();
        await b.ExitAsync();
        Match left = MemberSummary().Match(b.Output);
        TestContext.Out.WriteLine($"takeover {takeover.TotalMilliseconds:F0} ms (lease TTL {TestStage.LeaseTtl.TotalMilliseconds} ms); produced {written}; {status.Value}; {left.Value}; whole test {total.Elapsed.TotalSeconds:F1} s");
        Assert.Multiple(() =>
        {
            Assert.That(code, Is.Zero);
            Assert.That(status.Groups[6].Value, Is.EqualTo("true"), "conserved");
            Assert.That(Figure(1), Is.EqualTo(written), "every produced update was stored once");
            Assert.That(Figure(2), Is.EqualTo(written), "and settled");
            Assert.That(Figure(3), Is.Zero, "nothing left");
            Assert.That(output, Does.Contain("owners: (none)=0-7").Or.Contain("owners: b=0-7"), "a holds no lease any more");
            Assert.That(takeover, Is.LessThan(TestStage.TakeoverBound), "takeover within the documented bound (TTL + TTL/3, plus slack)");
            Assert.That(b.ExitCode, Is.Zero, b.Output);
            Assert.That(b.Output, Does.Contain("leaving: finishing and acknowledging"));
            Assert.That(left.Success, Is.True, b.Output);
        });
        Assert.Multiple(() =>
        {
            Assert.That(long.Parse(left.Groups[4].Value, CultureInfo.InvariantCulture), Is.GreaterThanOrEqualTo(Partitions), "b took its half, then a's");
            Assert.That(left.Groups[5].Value, Is.EqualTo("0"), "b never lost a lease");
            Assert.That(a.Output, Does.Not.Contain("summary:"), "a died without a goodbye");
        });
    }

    [Test]
    public async Task Status_of_a_stage_that_does_not_exist_says_so_and_exits_4()
    {
        await using NatsServer server = await NatsServer.StartNewAsync();
        (int code, string output) = await DemoProcess.RunAsync("--nats", server.Url, "--stage", "nothing-here", "--status");
        Assert.That(code, Is.EqualTo(4), output);
        Assert.That(output, Does.Contain("err: error: Distributed stage 'nothing-here' does not exist on the server"));
    }
}
