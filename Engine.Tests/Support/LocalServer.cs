using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Engine.Tests.Support;

/// <summary>
/// What the tests that start a real server of their own (InfluxDB, nats-server) share: a free
/// loopback port, and finding the server's executable, or skipping the test with the install
/// command (failing it instead when the CI variable that requires the server is set).
/// </summary>
internal static class LocalServer
{
    /// <summary>A free loopback port (the listener that found it is closed again).</summary>
    public static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    /// <summary>
    /// The path of <paramref name="executable"/>: from <paramref name="pathVariable"/> if set, else
    /// from PATH, else one of <paramref name="fallbacks"/>. Missing, the test is ignored with
    /// <paramref name="missing"/>, or fails when <paramref name="requireVariable"/> is 1.
    /// </summary>
    public static string FindExecutable(string executable, string pathVariable, string requireVariable, string missing, params string[] fallbacks)
    {
        string? configured = Environment.GetEnvironmentVariable(pathVariable);
        string[] candidates = [.. configured is null ? [] : new[] { configured },
            .. (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':', StringSplitOptions.RemoveEmptyEntries).Select(d => Path.Combine(d, executable)),
            .. fallbacks];
        string? found = candidates.FirstOrDefault(File.Exists);
        if (found is not null)
        {
            return found;
        }

        if (Environment.GetEnvironmentVariable(requireVariable) == "1")
        {
            Assert.Fail(missing + $" ({requireVariable}=1 makes this a failure.)");
        }

        Assert.Ignore(missing);
        return null!;
    }

    /// <summary>
    /// Starts <paramref name="executable"/> with <paramref name="arguments"/>, every output line going
    /// to <paramref name="log"/>, and waits until a line contains <paramref name="readyLine"/>; fails
    /// with the log if the process exits first, or when <paramref name="patience"/> runs out.
    /// </summary>
    public static async Task<Process> StartAsync(string executable, string[] arguments, string readyLine, ConcurrentQueue<string> log, TimeSpan patience)
    {
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var process = new Process
        {
            StartInfo = new ProcessStartInfo(executable, arguments)
            {
                RedirectStandardError = true,
                RedirectStandardOutput = true,
                UseShellExecute = false,
            },
            EnableRaisingEvents = true,
        };
        void OnLine(object sender, DataReceivedEventArgs e)
        {
            if (e.Data is null)
            {
                return;
            }

            log.Enqueue(e.Data);
            if (e.Data.Contains(readyLine, StringComparison.Ordinal))
            {
                ready.TrySetResult();
            }
        }

        process.ErrorDataReceived += OnLine;
        process.OutputDataReceived += OnLine;
        process.Exited += (_, _) => ready.TrySetException(new InvalidOperationException($"{Path.GetFileName(executable)} exited before it was ready:\n" + string.Join('\n', log)));
        process.Start();
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        try
        {
            await ready.Task.WaitAsync(patience);
        }
        catch
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }

            process.Dispose();
            throw;
        }

        return process;
    }

    /// <summary>
    /// Kills a server started by <see cref="StartAsync"/> (kill -9, as a crash would), waits for it to
    /// exit within <paramref name="patience"/> and disposes it; null or already gone does nothing more.
    /// </summary>
    public static async Task KillAsync(Process? process, TimeSpan patience)
    {
        if (process is { HasExited: false })
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync().WaitAsync(patience);
        }

        process?.Dispose();
    }
}
