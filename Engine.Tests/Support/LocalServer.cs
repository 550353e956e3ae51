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
}
