using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;

namespace Engine.Nats.Tests.Support;

/// <summary>
/// The member program (Engine.Nats.Member) as a child process, so a test can kill -9 (or SIGSTOP) a
/// real member, optionally inside a network namespace (<c>ip netns exec</c>, which execs the program,
/// so the process is the member itself). Its stdout lines drive events: "ready", "count N", "owned …";
/// "run …" lines (with <c>--log-runs</c>) go to a <see cref="RunLog"/>.
/// </summary>
internal sealed class MemberProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _log = new();
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly string _name;
    private readonly RunLog? _runs;
    private long _count;

    private MemberProcess(Process process, string name, RunLog? runs)
    {
        _process = process;
        _name = name;
        _runs = runs;
    }

    /// <summary>Raised when the child reports progress or ownership.</summary>
    public event EventHandler? Changed;

    public long Count => Interlocked.Read(ref _count);

    public string Owned { get; private set; } = "";

    public string Log => string.Join('\n', _log);

    /// <summary>Where the program's build output is (see <see cref="SiblingBuild.Dll"/>).</summary>
    public static string Dll() => SiblingBuild.Dll("Engine.Nats.Member");

    public static Task<MemberProcess> StartAsync(params string[] arguments) => StartAsync(null, null, arguments);

    /// <summary>Starts a member (in <paramref name="netns"/> when given) and waits for "ready"; its run lines go to <paramref name="runs"/>.</summary>
    public static async Task<MemberProcess> StartAsync(string? netns, RunLog? runs, params string[] arguments)
    {
        ProcessStartInfo info = ProgramStart(netns, [.. arguments, "--stdin"]);
        int named = Array.IndexOf(arguments, "--member");
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var member = new MemberProcess(process, named >= 0 ? arguments[named + 1] : "?", runs);
        process.OutputDataReceived += (_, e) => member.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                member._log.Enqueue("err: " + e.Data);
            }
        };
        process.Exited += (_, _) => member._ready.TrySetException(new InvalidOperationException("the member exited:\n" + member.Log));
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        await member._ready.Task.Within();
        return member;
    }

    /// <summary>Runs the program to its end (a producer or <c>--status</c>), in <paramref name="netns"/> when given; returns its exit code and output.</summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(string? netns, params string[] arguments)
    {
        using var process = Process.Start(ProgramStart(netns, arguments))!;
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> errors = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().Within();
        return (process.ExitCode, await output + await errors);
    }

    /// <summary>Asks for a graceful leave (stdin "leave") and waits for the process to exit.</summary>
    public async Task LeaveAsync()
    {
        await _process.StandardInput.WriteLineAsync("leave");
        await _process.StandardInput.FlushAsync();
        await _process.WaitForExitAsync().Within();
    }

    /// <summary>Freezes the process (SIGSTOP): what a long GC pause, a VM freeze or a stalled container looks like.</summary>
    public Task PauseAsync() => SignalAsync("-STOP");

    /// <summary>Lets a frozen process run again (SIGCONT).</summary>
    public Task ResumeAsync() => SignalAsync("-CONT");

    public Task UntilAsync(Func<MemberProcess, bool> condition, string what) =>
        TestWait.UntilAsync(() => condition(this), h => Changed += h, h => Changed -= h, what);

    /// <summary>kill -9: no goodbye, leases and in-flight messages are left behind.</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync().Within();
        }
    }

    private static ProcessStartInfo ProgramStart(string? netns, IEnumerable<string> arguments)
    {
        var info = new ProcessStartInfo(netns is null ? "dotnet" : "ip") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        if (netns is not null)
        {
            foreach (string part in new[] { "netns", "exec", netns, "dotnet" })
            {
                info.ArgumentList.Add(part);
            }
        }

        info.ArgumentList.Add(Dll());
        foreach (string argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        return info;
    }

    private async Task SignalAsync(string signal)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill", [signal, _process.Id.ToString(CultureInfo.InvariantCulture)]) { UseShellExecute = false })!;
        await kill.WaitForExitAsync().Within();
        Assert.That(kill.ExitCode, Is.Zero, $"kill {signal} {_process.Id}");
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        _process.Dispose();
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        if (line.StartsWith("run ", StringComparison.Ordinal))
        {
            _runs?.Add(_name, line);
            return;
        }

        // Prefixed with the monotonic clock in ms, to line events up with run logs and other members.
        _log.Enqueue(string.Create(CultureInfo.InvariantCulture, $"{Stopwatch.GetTimestamp() * 1000 / Stopwatch.Frequency} {line}"));
        if (line.StartsWith("ready", StringComparison.Ordinal))
        {
            _ready.TrySetResult();
        }
        else if (line.StartsWith("count ", StringComparison.Ordinal))
        {
            Interlocked.Exchange(ref _count, long.Parse(line[6..], CultureInfo.InvariantCulture));
        }
        else if (line.StartsWith("owned", StringComparison.Ordinal))
        {
            Owned = line.Length > 6 ? line[6..] : "";
        }

        Changed?.Invoke(this, EventArgs.Empty);
    }
}
