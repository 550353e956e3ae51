using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;

namespace Engine.Nats.Tests.Support;

/// <summary>
/// The member program (Engine.Nats.Member) as a child process, so a test can kill -9 a real member.
/// Its stdout lines drive events: "ready", "count N", "owned …".
/// </summary>
internal sealed class MemberProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _log = new();
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _count;

    private MemberProcess(Process process) => _process = process;

    /// <summary>Raised when the child reports progress or ownership.</summary>
    public event EventHandler? Changed;

    public long Count => Interlocked.Read(ref _count);

    public string Owned { get; private set; } = "";

    public string Log => string.Join('\n', _log);

    /// <summary>Where the program's build output is (see <see cref="SiblingBuild.Dll"/>).</summary>
    public static string Dll() => SiblingBuild.Dll("Engine.Nats.Member");

    public static async Task<MemberProcess> StartAsync(params string[] arguments)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        info.ArgumentList.Add(Dll());
        foreach (string argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        info.ArgumentList.Add("--stdin");
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var member = new MemberProcess(process);
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

        _log.Enqueue(line);
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
