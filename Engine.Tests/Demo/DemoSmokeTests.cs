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
        (int exitCode, string output, string error) = await RunAsync("--duration", "2", "--report-interval", "0.5");
        Match summary = SummaryLine().Match(output);
        Assert.Multiple(() =>
        {
            Assert.That(exitCode, Is.Zero, error);
            Assert.That(summary.Success, Is.True, output);
            Assert.That(summary.Groups[8].Value, Is.EqualTo("true"));
            Assert.That(long.Parse(summary.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), Is.GreaterThan(0));
            Assert.That(output, Does.Contain("enrich").And.Contain("end-to-end p99"));
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
}
