using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using NATS.Client.Core;

using Engine.Tests.Support;

namespace Engine.Nats.Tests.Support;

/// <summary>
/// A real <c>nats-server -js</c> on a free loopback port with its own temporary store directory and
/// generated config, ready when it logs "Server is ready". When nats-server is missing the test is
/// skipped with how to install it, unless <c>ENGINE_REQUIRE_NATS=1</c> (set by .ci/run) makes that a
/// failure.
/// </summary>
internal sealed class NatsServer : IAsyncDisposable
{
    public const string RequireVariable = "ENGINE_REQUIRE_NATS";
    private readonly string _directory;
    private readonly string _mappings;
    private readonly string _host;
    private readonly string? _netns;
    private readonly ConcurrentQueue<string> _log = new();
    private Process? _process;

    private NatsServer(string directory, int port, string mappings, string host, string? netns)
    {
        _directory = directory;
        Port = port;
        _mappings = mappings;
        _host = host;
        _netns = netns;
    }

    public int Port { get; }

    public string Url => $"nats://{_host}:{Port}";

    /// <summary>The server's log so far, for failure messages.</summary>
    public string Log => string.Join('\n', _log);

    public static int FreePort() => LocalServer.FreePort();

    /// <summary>The nats-server executable, or skips/fails the test as described on the type.</summary>
    public static string Executable() => LocalServer.FindExecutable(
        "nats-server",
        "NATS_SERVER",
        RequireVariable,
        "nats-server not found: install it (Debian: apt-get install -y nats-server) or set NATS_SERVER to its path to run the NATS scale-out tests.",
        "/usr/sbin/nats-server",
        "/usr/bin/nats-server");

    /// <summary>Starts a server; <paramref name="mappings"/> is the body of a <c>mappings</c> block, if any.</summary>
    public static Task<NatsServer> StartNewAsync(string mappings = "") => StartNewAsync(mappings, "127.0.0.1", FreePort(), null);

    /// <summary>
    /// Starts a server inside network namespace <paramref name="netns"/> (<c>ip netns exec</c>), listening
    /// only on <paramref name="host"/>, an address the test gave that namespace; clients reach it only from
    /// namespaces joined to it.
    /// </summary>
    public static Task<NatsServer> StartInNamespaceAsync(string netns, string host) => StartNewAsync("", host, 4222, netns);

    private static async Task<NatsServer> StartNewAsync(string mappings, string host, int port, string? netns)
    {
        _ = Executable();
        string directory = Path.Combine(Path.GetTempPath(), "engine-nats-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        var server = new NatsServer(directory, port, mappings, host, netns);
        await server.StartAsync();
        return server;
    }

    /// <summary>Starts (or restarts, keeping the store) the server on the same port and waits until it is ready.</summary>
    public async Task StartAsync()
    {
        string config = Path.Combine(_directory, "nats.conf");
        string store = Path.Combine(_directory, "store");
        await File.WriteAllTextAsync(config, string.Join('\n',
            $"listen: \"{_host}:{Port}\"",
            $"jetstream {{ store_dir: \"{store}\" }}",
            string.IsNullOrEmpty(_mappings) ? string.Empty : $"mappings = {{ {_mappings} }}",
            string.Empty));
        _process = _netns is null
            ? await LocalServer.StartAsync(Executable(), ["-js", "-c", config], "Server is ready", _log, TestWait.Patience)
            : await LocalServer.StartAsync("ip", ["netns", "exec", _netns, Executable(), "-js", "-c", config], "Server is ready", _log, TestWait.Patience);
    }

    /// <summary>A new client connection to this server (the caller disposes it).</summary>
    public NatsConnection Connect(string name = "test") => new(new NatsOpts { Url = Url, Name = name });

    /// <summary>Kills the server (kill -9, as a crash would) and waits for it to exit; its store stays for a restart.</summary>
    public async Task KillAsync()
    {
        await LocalServer.KillAsync(_process, TestWait.Patience);
        _process = null;
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temp directory is not worth failing a test for.
        }
    }
}
