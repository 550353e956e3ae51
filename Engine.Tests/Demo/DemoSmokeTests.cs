using System.Diagnostics;
using System.Text.RegularExpressions;
using Engine.Tests.Support;

namespace Engine.Tests.Demo;

/// <summary>Runs the real demo program (README's first command) briefly and checks what it prints.</summary>
public partial class DemoSmokeTests
{
    [GeneratedRegex(@"^summary: accepted=(\d+) processed=(\d+) superseded=(\d+) dropped=(\d+) dead_lettered=(\d+) abandoned=(\d+) e2e_p99_ms=([\d.]+) conserved=(true|false)$", RegexOptions.Multiline)]
    private static partial Regex SummaryLine();

    [GeneratedRegex(@"^influx: (\d+) points never made it into InfluxDB \((\d+) abandoned at stop, (\d+) dropped from a full buffer, (\d+) rejected as malformed\); (\d+) sent$")]
    private static partial Regex InfluxLine();

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
            Assert.That(output, Does.Not.Contain("influx:"), "the delivery line comes only with --influx");
            Assert.That(Regex.Matches(output, "^engine .* interval", RegexOptions.Multiline), Has.Count.GreaterThanOrEqualTo(3), "a block every half second, then the final one");
        });
    }

    [Test]
    public async Task A_soak_samples_each_interval_of_both_phases_and_ends_with_its_verdict_and_the_summary()
    {
        (int exitCode, string output, string error) = await RunAsync("--soak", "--duration", "1.5", "--idle", "1", "--report-interval", "0.5", "--rate", "5000", "--no-live");
        string[] samples = [.. output.Split('\n').Where(l => Regex.IsMatch(l, @"^soak: phase=(busy|idle) t_s=\d+ rss_mb=[\d.]+ anon_mb=([\d.]+|-) heap_mb=[\d.]+ gen2=\d+ threads=\d+ ingest_per_s=[\d.]+$"))];
        Assert.Multiple(() =>
        {
            Assert.That(exitCode, Is.Zero, error + output);
            Assert.That(samples.Count(l => l.StartsWith("soak: phase=busy", StringComparison.Ordinal)), Is.GreaterThanOrEqualTo(2), output);
            Assert.That(samples.Count(l => l.StartsWith("soak: phase=idle", StringComparison.Ordinal)), Is.GreaterThanOrEqualTo(2), output);
            Assert.That(output, Does.Match(@"(?m)^soak: phase=busy samples=\d+ rss_mb=\S+ rss_last_third_growth_mb=\S+ anon_mb=\S+ anon_last_third_growth_mb=\S+ heap_mb=\S+ heap_last_third_growth_mb=\S+ gen2=\S+ threads=\S+ plateau=(true|false|unknown)$"));
            Assert.That(output, Does.Match(@"(?m)^soak: plateau=(true|false) stalled_intervals=0$"));
            Assert.That(SummaryLine().Match(output).Groups[8].Value, Is.EqualTo("true"));
        });
    }

    [Test]
    public async Task With_influx_options_the_measurements_reach_a_real_InfluxDB()
    {
        await using InfluxDbServer server = await InfluxDbServer.StartNewAsync();
        (int exitCode, string output, string error) = await RunAsync("--duration", "2", "--report-interval", "0.5", "--no-live", "--influx", server.Url.ToString(), "--influx-db", "engine");
        Assert.That(exitCode, Is.Zero, error + output);
        Assert.That(error, Is.Empty, "no reporter failure was logged");
        Match influx = InfluxLine().Match(output.TrimEnd().Split('\n')[^2]);
        Assert.That(influx.Success, Is.True, output);
        Assert.That(influx.Groups[1].Value, Is.EqualTo("0"), "every point made it into InfluxDB");
        List<InfluxDbServer.Series> processed = await server.QueryAsync("engine", "SELECT last(\"count.meter\") FROM \"engine__items_processed\" WHERE \"app\" = 'engine-demo' GROUP BY \"stage\", \"shard\"");
        async Task<long> FinalSum(string measurement) =>
            (await server.QueryAsync("engine", $"SELECT last(\"value\") FROM \"{measurement}\" WHERE \"app\" = 'engine-demo' GROUP BY *")).Sum(s => (long)s[0, "last"]!);
        Match summary = SummaryLine().Match(output);
        long Summary(int group) => long.Parse(summary.Groups[group].Value, System.Globalization.CultureInfo.InvariantCulture);
        long superseded = await FinalSum("engine__items_superseded");
        long deadLettered = await FinalSum("engine__dead_lettered");
        long added = await FinalSum("engine__items_added");
        long windowsEmitted = await FinalSum("engine__windows_emitted");
        List<InfluxDbServer.Series> windowItems = await server.QueryAsync("engine", "SELECT last(\"count.hist\") FROM \"engine__window_items\" WHERE \"app\" = 'engine-demo' GROUP BY \"stage\", \"shard\"");
        Assert.Multiple(() =>
        {
            // Every node that takes items (issue 25: without the batcher the sum of engine__items_added
            // fell short of the summary's accepted).
            Assert.That(processed.Select(s => s.Tags["stage"]).Distinct(), Is.EquivalentTo(new[] { "ingest", "enrich", "detect", "batch", "store" }));
            Assert.That(added, Is.EqualTo(Summary(1)), "accepted: the last items_added of every series adds up to the summary's");
            Assert.That(processed.Sum(s => (long)s[0, "last"]!), Is.EqualTo(Summary(2)), "processed");
            Assert.That(windowsEmitted, Is.EqualTo(processed.Where(s => s.Tags["stage"] == "store").Sum(s => (long)s[0, "last"]!)).And.GreaterThan(0), "the per-namespace batches' windows reach InfluxDB: every batch the store took");
            Assert.That(windowItems.Select(s => s.Tags["stage"]).Distinct(), Is.EqualTo(new[] { "batch" }), "items per window, a histogram");
            Assert.That(processed.Where(s => s.Tags["stage"] == "enrich").Sum(s => (long)s[0, "last"]!), Is.GreaterThan(0));

            // The final flush carries the final counts: only ingest supersedes and only enrich dead-letters,
            // so InfluxDB's newest values must equal the summary's totals.
            Assert.That(superseded, Is.EqualTo(Summary(3)), "superseded");
            Assert.That(deadLettered, Is.EqualTo(Summary(5)), "dead-lettered");
        });
        Assert.That((await server.QueryAsync("engine", "SHOW MEASUREMENTS WITH MEASUREMENT =~ /engine__(loop|limiter|reporter)_/")).Single().Values.Count, Is.GreaterThanOrEqualTo(10));
    }

    [TestCase(false, 0)]
    [TestCase(true, 3)]
    public async Task With_influx_at_a_closed_port_the_line_before_the_summary_counts_the_points_that_never_arrived(bool requireDelivery, int exitCode)
    {
        string closed = $"http://127.0.0.1:{InfluxDbServer.FreePort()}/";
        string[] arguments = ["--duration", "1", "--report-interval", "0.5", "--no-live", "--influx", closed, "--influx-db", "engine"];
        (int code, string output, string error) = await RunAsync(requireDelivery ? [.. arguments, "--require-delivery"] : arguments);
        string[] lines = ["", "", .. output.TrimEnd().Split('\n')];
        Match influx = InfluxLine().Match(lines[^2]);
        long Figure(int group) => long.Parse(influx.Groups[group].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.Multiple(() =>
        {
            Assert.That(SummaryLine().IsMatch(lines[^1]), Is.True, "the summary stays the last line: " + output);
            Assert.That(influx.Success, Is.True, "the line before it says what never reached InfluxDB: " + output);
            Assert.That(lines.Count(l => l.StartsWith("influx:", StringComparison.Ordinal)), Is.EqualTo(1), "one such line");
            Assert.That(code, Is.EqualTo(exitCode), (requireDelivery ? "--require-delivery fails the run: " : "without --require-delivery the demo runs without a server: ") + error);
        });
        Assert.Multiple(() =>
        {
            Assert.That(Figure(1), Is.GreaterThan(0), "nothing was delivered");
            Assert.That(Figure(2), Is.EqualTo(Figure(1)), "all of it was buffered until the stop, then abandoned");
            Assert.That(Figure(5), Is.Zero);
            Assert.That(error, Does.Contain($"stopped with {Figure(2)} points it could not deliver"), "and logged");
        });
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
    [TestCase("--require-delivery", "true", "error: --require-delivery needs --influx <url>.")]
    [TestCase("--bogus", "1", "error: Unrecognized command or argument '--bogus'.")]
    [TestCase("--idle", "5", "error: --idle needs --soak.")]
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

    [TestCase("error: --member needs --nats <url>.", "--member", "a")]
    [TestCase("error: --produce needs --nats <url>.", "--produce")]
    [TestCase("error: --status needs --nats <url>.", "--status")]
    [TestCase("error: --partitions needs --nats <url>.", "--partitions", "8")]
    [TestCase("error: --nats needs one of --member <name>, --produce or --status.", "--nats", "nats://127.0.0.1:4222")]
    [TestCase("error: --nats must be a nats:// URL such as nats://127.0.0.1:4222, not 'http://127.0.0.1:4222'.", "--nats", "http://127.0.0.1:4222", "--status")]
    [TestCase("error: --member, --produce and --status are exclusive, not --member with --produce.", "--nats", "nats://127.0.0.1:4222", "--member", "a", "--produce")]
    [TestCase("error: --member must be 1 to 128 letters, digits, '-', '_' or '=', not 'a.b'.", "--nats", "nats://127.0.0.1:4222", "--member", "a.b")]
    [TestCase("error: --stage must be 1 to 32 letters, digits, '-' or '_', not 'x y'.", "--nats", "nats://127.0.0.1:4222", "--produce", "--stage", "x y")]
    [TestCase("error: --status reads the partition count from the server and takes no --lease-ttl or --partitions.", "--nats", "nats://127.0.0.1:4222", "--status", "--partitions", "8")]
    [TestCase("error: --influx is not supported with --nats yet: the reporters do not take the partition figures (see docs/scale-out.md).", "--nats", "nats://127.0.0.1:4222", "--produce", "--influx", "http://127.0.0.1:8086", "--influx-db", "engine")]
    [TestCase("error: --lease-ttl must be a number from 0.5 to 300, not '0.1'.", "--nats", "nats://127.0.0.1:4222", "--member", "a", "--lease-ttl", "0.1")]
    public async Task Bad_distributed_mode_combinations_name_the_option(string message, params string[] arguments)
    {
        // Refused before any connection: no NATS server is needed (none listens in these tests).
        (int exitCode, string output, string error) = await RunAsync(arguments);
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
        foreach (string option in new[] { "--duration", "--rate", "--entities", "--shards", "--workers", "--capacity", "--report-interval", "--influx", "--influx-db", "--influx-org", "--influx-bucket", "--influx-token", "--require-delivery", "--no-live", "--seed", "--nats", "--member", "--produce", "--status", "--stage", "--partitions", "--lease-ttl", "--soak", "--idle" })
        {
            Assert.That(output, Does.Contain(option + " "));
        }
    }

    [Test]
    public async Task Help_shows_each_default_once()
    {
        (_, string output, _) = await RunAsync("--help");
        string[] options = [.. output.Split('\n').Where(l => l.TrimStart().StartsWith("--", StringComparison.Ordinal))];
        Assert.That(options, Has.Some.Contains("--duration <n>").And.Some.Contains("[default: 15]"));
        Assert.That(options, Has.Some.Contains("--stage <name>").And.Some.Contains("[default: demo]"));
        Assert.That(options, Has.Some.Contains("--partitions <n>").And.Some.Contains("[default: 16]"));
        Assert.That(options, Has.Some.Contains("--lease-ttl <n>").And.Some.Contains("[default: 3]"));
        Assert.That(options.Count(l => l.TrimStart().StartsWith("--nats ", StringComparison.Ordinal)), Is.EqualTo(1), "each option once");
        Assert.That(options, Has.All.Matches<string>(l => Regex.Count(l, "default", RegexOptions.IgnoreCase) <= 1));
    }

    [Test]
    public async Task SIGTERM_stops_the_load_drains_and_prints_the_summary_with_exit_code_0()
    {
        if (OperatingSystem.IsWindows())
        {
            Assert.Ignore("SIGTERM is a POSIX signal.");
        }

        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string argument in new[] { DemoAssembly(), "--duration", "600", "--report-interval", "0.2", "--no-live" })
        {
            start.ArgumentList.Add(argument);
        }

        var lines = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var reporting = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using Process process = Process.Start(start)!;
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is { } line)
            {
                lines.Enqueue(line);
                if (line.StartsWith("pipeline demo", StringComparison.Ordinal))
                {
                    reporting.TrySetResult();
                }
            }
        };
        process.BeginOutputReadLine();
        Task<string> error = process.StandardError.ReadToEndAsync();

        // Signal only once the pipeline runs and reports (the signal handlers are in place by then).
        await reporting.Task.Within();
        using (Process kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync().Within();
        }

        await process.WaitForExitAsync().Within();
        string output = string.Join('\n', lines);
        Match summary = SummaryLine().Match(output);
        Assert.Multiple(async () =>
        {
            Assert.That(process.ExitCode, Is.Zero, await error);
            Assert.That(output, Does.Contain("stopped by a signal (Ctrl+C or SIGTERM)"));
            Assert.That(summary.Success, Is.True, output);
            Assert.That(summary.Groups[8].Value, Is.EqualTo("true"));
        });
    }

    [Test]
    public async Task After_the_load_stops_it_says_what_is_left_while_it_drains()
    {
        // As fast as the pipeline takes them: every stage is full of backpressure when the load stops.
        (int exitCode, string output, string error) = await RunAsync("--rate", "0", "--duration", "1", "--report-interval", "0.2", "--no-live");
        Assert.Multiple(() =>
        {
            Assert.That(exitCode, Is.Zero, error);
            Assert.That(output, Does.Match(@"draining… \d+ items left \((\w+=\d+(, )?)+\)"));
            Assert.That(SummaryLine().Match(output).Groups[8].Value, Is.EqualTo("true"), output);
        });
    }
}
