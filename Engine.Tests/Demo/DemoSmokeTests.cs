using System.Diagnostics;
using System.Text.RegularExpressions;
using Engine.Tests.Support;

namespace Engine.Tests.Demo;

/// <summary>Runs the real demo program (README's first command) briefly and checks what it prints.</summary>
public partial class DemoSmokeTests
{
    [GeneratedRegex(@"^summary: accepted=(\d+) processed=(\d+) superseded=(\d+) dropped=(\d+) dead_lettered=(\d+) abandoned=(\d+) e2e_p99_ms=([\d.]+) conserved=(true|false)$", RegexOptions.Multiline)]
    private static partial Regex SummaryLine();

    private static string DemoAssembly()
    {
        // Engine.Tests/bin/<Configuration>/net10.0 -> Engine.Demo/bin/<Configuration>/net10.0
        var output = new DirectoryInfo(AppContext.BaseDirectory);
        string framework = output.Name;
        string configuration = output.Parent!.Name;
        DirectoryInfo root = output;
        while (!File.Exists(Path.Combine(root.FullName, "Engine.sln")))
        {
            root = root.Parent ?? throw new InvalidOperationException("Engine.sln not found above " + output.FullName);
        }

        return Path.Combine(root.FullName, "Engine.Demo", "bin", configuration, framework, "Engine.Demo.dll");
    }

    private static async Task<(int ExitCode, string Output, string Error)> RunAsync(params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(DemoAssembly());
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using Process process = Process.Start(start)!;
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().Within();
        return (process.ExitCode, await output, await error);
    }

    [Test]
    public async Task A_short_run_ends_with_a_conserved_summary_line_and_exit_code_0()
    {
        (int exitCode, string output, string error) = await RunAsync("--duration", "2", "--report-interval", "0.5", "--no-live");
        Match summary = SummaryLine().Match(output);
        Assert.Multiple(() =>
        {
            Assert.That(exitCode, Is.Zero, error);
            Assert.That(summary.Success, Is.True, output);
            Assert.That(summary.Groups[8].Value, Is.EqualTo("true"));
            Assert.That(long.Parse(summary.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), Is.GreaterThan(0));
            Assert.That(output, Does.Contain("pipeline demo  e2e p50").And.Contain("  enrich ").And.Contain("(final)"));
            Assert.That(output, Does.Contain("loop resync:").And.Contain("limiter enrich-io:"));
            Assert.That(Regex.Matches(output, "^engine .* interval", RegexOptions.Multiline), Has.Count.GreaterThanOrEqualTo(3), "a block every half second, then the final one");
        });
    }

    [Test]
    public async Task With_influx_options_the_measurements_reach_a_real_InfluxDB()
    {
        await using InfluxDbServer server = await InfluxDbServer.StartNewAsync();
        (int exitCode, string output, string error) = await RunAsync("--duration", "2", "--report-interval", "0.5", "--no-live", "--influx", server.Url.ToString(), "--influx-db", "engine");
        Assert.That(exitCode, Is.Zero, error + output);
        Assert.That(error, Is.Empty, "no reporter failure was logged");
        List<InfluxDbServer.Series> processed = await server.QueryAsync("engine", "SELECT last(\"count.meter\") FROM \"engine__items_processed\" WHERE \"app\" = 'engine-demo' GROUP BY \"stage\", \"shard\"");
        async Task<long> FinalSum(string measurement) =>
            (await server.QueryAsync("engine", $"SELECT last(\"value\") FROM \"{measurement}\" WHERE \"app\" = 'engine-demo' GROUP BY *")).Sum(s => (long)s[0, "last"]!);
        Match summary = SummaryLine().Match(output);
        long Summary(int group) => long.Parse(summary.Groups[group].Value, System.Globalization.CultureInfo.InvariantCulture);
        long superseded = await FinalSum("engine__items_superseded");
        long deadLettered = await FinalSum("engine__dead_lettered");
        Assert.Multiple(() =>
        {
            Assert.That(processed.Select(s => s.Tags["stage"]).Distinct(), Is.EquivalentTo(new[] { "ingest", "enrich", "detect", "store" }));
            Assert.That(processed.Where(s => s.Tags["stage"] == "enrich").Sum(s => (long)s[0, "last"]!), Is.GreaterThan(0));

            // The final flush carries the final counts: only ingest supersedes and only enrich dead-letters,
            // so InfluxDB's newest values must equal the summary's totals.
            Assert.That(superseded, Is.EqualTo(Summary(3)), "superseded");
            Assert.That(deadLettered, Is.EqualTo(Summary(5)), "dead-lettered");
        });
        Assert.That((await server.QueryAsync("engine", "SHOW MEASUREMENTS WITH MEASUREMENT =~ /engine__(loop|limiter|reporter)_/")).Single().Values.Count, Is.GreaterThanOrEqualTo(10));
    }

    [Test]
    public async Task Bad_arguments_give_a_one_line_error_and_exit_code_2()
    {
        (int exitCode, string output, string error) = await RunAsync("--shards", "zero");
        Assert.Multiple(() =>
        {
            Assert.That(exitCode, Is.EqualTo(2));
            Assert.That(error.Trim(), Is.EqualTo("error: --shards must be a number from 1 to 4096, not 'zero'."));
            Assert.That(output, Is.Empty);
        });
    }

    [TestCase("--influx-db", "engine", "error: --influx-db, --influx-org, --influx-bucket and --influx-token need --influx <url>.")]
    [TestCase("--influx", "localhost:8086", "error: --influx must be an absolute http or https URL such as http://127.0.0.1:8086, not 'localhost:8086'.")]
    [TestCase("--influx", "http://127.0.0.1:8086", "error: --influx needs either --influx-db (InfluxDB 1.x) or --influx-org, --influx-bucket and --influx-token (2.x).")]
    [TestCase("--rate", "-1", "error: --rate must be a number from 0 to 10000000, not '-1'.")]
    [TestCase("--bogus", "1", "error: Unrecognized command or argument '--bogus'.")]
    public async Task Bad_option_combinations_name_the_option(string option, string value, string message)
    {
        (int exitCode, string output, string error) = await RunAsync(option, value);
        Assert.Multiple(() =>
        {
            Assert.That(exitCode, Is.EqualTo(2));
            Assert.That(error.Trim(), Is.EqualTo(message));
            Assert.That(output, Is.Empty);
        });
    }

    [Test]
    public async Task Help_lists_every_option_and_exits_0()
    {
        (int exitCode, string output, _) = await RunAsync("--help");
        Assert.That(exitCode, Is.Zero);
        foreach (string option in new[] { "--duration", "--rate", "--entities", "--shards", "--workers", "--capacity", "--report-interval", "--influx", "--influx-db", "--influx-org", "--influx-bucket", "--influx-token", "--no-live", "--seed" })
        {
            Assert.That(output, Does.Contain(option + " "));
        }
    }
}
