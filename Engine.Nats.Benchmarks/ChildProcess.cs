using System.Diagnostics;
using System.Globalization;

namespace Engine.Nats.Benchmarks;

/// <summary>A child process (nats-server or a member) whose stdout/stderr lines are watched.</summary>
internal sealed class ChildProcess : IDisposable
{
    private readonly Process _process;
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly string _readyText;
    private long _count;

    public ChildProcess(string file, IEnumerable<string> arguments, string readyText)
    {
        _readyText = readyText;
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        _process = new Process { StartInfo = info, EnableRaisingEvents = true };
        _process.OutputDataReceived += (_, e) => OnLine(e.Data);
        _process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        _process.Exited += (_, _) => _ready.TrySetException(new InvalidOperationException($"{file} exited early"));
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public event Action? Counted;

    public Task Ready => _ready.Task;

    public long Count => Interlocked.Read(ref _count);

    public string Owned { get; private set; } = "";

    public void Kill()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }
    }

    /// <summary>Asks a member to leave gracefully (SIGTERM) and waits for it to exit.</summary>
    public async Task TerminateAsync()
    {
        if (!_process.HasExited)
        {
            using var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]);
            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        }
    }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        if (line.Contains(_readyText, StringComparison.Ordinal))
        {
            _ready.TrySetResult();
        }

        if (line.StartsWith("count ", StringComparison.Ordinal))
        {
            Interlocked.Exchange(ref _count, long.Parse(line[6..], CultureInfo.InvariantCulture));
            Counted?.Invoke();
        }
        else if (line.StartsWith("owned", StringComparison.Ordinal))
        {
            Owned = line.Length > 6 ? line[6..] : "";
            Counted?.Invoke();
        }
    }
}
