using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Engine.Nats.Tests.Support;

/// <summary>
/// The demo program (Engine.Demo) in its distributed mode (<c>--nats</c>) as a child process: a member,
/// the producer or a status. Its stdout lines drive events; a test waits on them, never on a clock.
/// </summary>
internal sealed partial class DemoProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _log = new();
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _handled;
    private int _owned = -1;

    private DemoProcess(Process process) => _process = process;

    /// <summary>Raised for every line the child prints, and when it exits.</summary>
    public event EventHandler? Changed;

    /// <summary>Partitions the member owns, from its last "owned …" line; -1 before the first.</summary>
    public int Owned => Volatile.Read(ref _owned);

    /// <summary>Items the member handled, from its last live line.</summary>
    public long Handled => Interlocked.Read(ref _handled);

    public bool HasExited => _exited.Task.IsCompleted;

    public int ExitCode => _process.ExitCode;

    public string Output => string.Join('\n', _log);

    [GeneratedRegex(@"^owned .*\((\d+) of \d+\)")]
    private static partial Regex OwnedLine();

    [GeneratedRegex(@"^member \S+ · .* · handled (\d+) ")]
    private static partial Regex LiveLine();

    /// <summary>Where the program's build output is (see <see cref="SiblingBuild.Dll"/>).</summary>
    public static string Dll() => SiblingBuild.Dll("Engine.Demo");

    public static DemoProcess Start(params string[] arguments)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(Dll());
        foreach (string argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var demo = new DemoProcess(process);
        process.OutputDataReceived += (_, e) => demo.OnLine(e.Data, error: false);
        process.ErrorDataReceived += (_, e) => demo.OnLine(e.Data, error: true);
        process.Exited += (_, _) =>
        {
            // Exited can come before the last redirected lines: wait for the end of both streams.
            process.WaitForExit();
            demo._exited.TrySetResult();
            demo.Changed?.Invoke(demo, EventArgs.Empty);
        };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return demo;
    }

    /// <summary>Runs the demo to its end and returns its exit code and output.</summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(params string[] arguments)
    {
        await using DemoProcess demo = Start(arguments);
        await demo.ExitAsync();
        return (demo.ExitCode, demo.Output);
    }

    /// <summary>Waits for <paramref name="condition"/>, re-checked on each line; fails at once (with the output) if the process exits first.</summary>
    public async Task UntilAsync(Func<DemoProcess, bool> condition, string what)
    {
        await TestWait.UntilAsync(() => condition(this) || HasExited, h => Changed += h, h => Changed -= h, what);
        Assert.That(condition(this), Is.True, $"{what}, but the process exited with code {(HasExited ? ExitCode : 0)}:\n{Output}");
    }

    public Task ExitAsync() => _exited.Task.Within();

    /// <summary>SIGTERM: what systemd or docker stop send; the demo leaves gracefully.</summary>
    public async Task TerminateAsync()
    {
        using Process kill = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]);
        await kill.WaitForExitAsync().Within();
    }

    /// <summary>kill -9: no goodbye; leases and in-flight messages are left behind.</summary>
    public async Task KillAsync()
    {
        if (!HasExited)
        {
            try
            {
                _process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // It exited meanwhile.
            }

            await ExitAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        _process.Dispose();
    }

    private void OnLine(string? line, bool error)
    {
        if (line is null)
        {
            return;
        }

        _log.Enqueue(error ? "err: " + line : line);
        if (!error && OwnedLine().Match(line) is { Success: true } owned)
        {
            Volatile.Write(ref _owned, int.Parse(owned.Groups[1].Value, CultureInfo.InvariantCulture));
        }
        else if (!error && LiveLine().Match(line) is { Success: true } live)
        {
            Interlocked.Exchange(ref _handled, long.Parse(live.Groups[1].Value, CultureInfo.InvariantCulture));
        }

        Changed?.Invoke(this, EventArgs.Empty);
    }
}
