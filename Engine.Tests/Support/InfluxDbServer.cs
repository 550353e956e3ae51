using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace Engine.Tests.Support;

/// <summary>
/// A real InfluxDB 1.x server (<c>influxd</c> from Debian's <c>influxdb</c> package) on loopback ports,
/// with its own temporary directories and generated config. Ready when it logs that it listens on
/// HTTP (checked with one <c>/ping</c>); no polling. When <c>influxd</c> is missing the test is
/// skipped with how to install it, unless <c>ENGINE_REQUIRE_INFLUXDB=1</c> (set by .ci/run) makes
/// that a failure.
/// </summary>
internal sealed class InfluxDbServer : IAsyncDisposable
{
    public const string RequireVariable = "ENGINE_REQUIRE_INFLUXDB";
    private readonly string _directory;
    private readonly bool _ownsDirectory;
    private readonly long _maxBodySize;
    private Process? _process;

    private InfluxDbServer(string directory, bool ownsDirectory, int port, long maxBodySize)
    {
        _directory = directory;
        _ownsDirectory = ownsDirectory;
        Port = port;
        _maxBodySize = maxBodySize;
        Client = new HttpClient { BaseAddress = Url, Timeout = TestWait.Patience };
    }

    public int Port { get; }

    public Uri Url => new($"http://127.0.0.1:{Port}/");

    public HttpClient Client { get; }

    public int ProcessId => _process?.Id ?? 0;

    /// <summary>A free loopback port.</summary>
    public static int FreePort() => LocalServer.FreePort();

    /// <summary>The influxd executable, or skips/fails the test as described on the type.</summary>
    public static string Executable() => LocalServer.FindExecutable(
        "influxd",
        "INFLUXD",
        RequireVariable,
        "influxd not found: install InfluxDB 1.x (Debian: apt-get install -y influxdb) or set INFLUXD to its path to run the InfluxDB reporter tests.",
        "/usr/bin/influxd",
        "/usr/sbin/influxd");

    /// <summary>Creates a server on <paramref name="port"/> (default: a free one) without starting it.</summary>
    public static InfluxDbServer Create(int? port = null, long maxBodySize = 25_000_000)
    {
        _ = Executable();
        string directory = Path.Combine(Path.GetTempPath(), "engine-influxd-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        return new InfluxDbServer(directory, ownsDirectory: true, port ?? FreePort(), maxBodySize);
    }

    /// <summary>Creates and starts a server.</summary>
    public static async Task<InfluxDbServer> StartNewAsync(long maxBodySize = 25_000_000)
    {
        InfluxDbServer server = Create(maxBodySize: maxBodySize);
        await server.StartAsync();
        return server;
    }

    /// <summary>Starts (or restarts, keeping its data) the server and waits until it answers.</summary>
    public async Task StartAsync()
    {
        string config = Path.Combine(_directory, "influxdb.conf");
        string Dir(string name) => Path.Combine(_directory, name).Replace("\\", "/", StringComparison.Ordinal);
        await File.WriteAllTextAsync(config, string.Join('\n',
            "reporting-disabled = true",
            $"bind-address = \"127.0.0.1:{FreePort()}\"",
            "[meta]",
            $"  dir = \"{Dir("meta")}\"",
            "[data]",
            $"  dir = \"{Dir("data")}\"",
            $"  wal-dir = \"{Dir("wal")}\"",
            "  query-log-enabled = false",
            "[http]",
            "  enabled = true",
            $"  bind-address = \"127.0.0.1:{Port}\"",
            "  log-enabled = false",
            $"  max-body-size = {_maxBodySize.ToString(CultureInfo.InvariantCulture)}",
            "[monitor]",
            "  store-enabled = false",
            "[continuous_queries]",
            "  enabled = false",
            "[subscriber]",
            "  enabled = false",
            string.Empty));

        _process = await LocalServer.StartAsync(Executable(), ["-config", config], "Listening on HTTP", new System.Collections.Concurrent.ConcurrentQueue<string>(), TestWait.Patience);
        using HttpResponseMessage ping = await Client.GetAsync("ping");
        Assert.That(ping.StatusCode, Is.EqualTo(HttpStatusCode.NoContent), "influxd answers /ping");
    }

    /// <summary>Kills the server (as a crash would) and waits for it to exit; its data stays for a restart.</summary>
    public async Task KillAsync()
    {
        await LocalServer.KillAsync(_process, TestWait.Patience);
        _process = null;
    }

    /// <summary>Freezes (SIGSTOP) or thaws (SIGCONT) the server: frozen, it accepts connections but never answers.</summary>
    public async Task SignalAsync(string signal)
    {
        using var kill = Process.Start("kill", [$"-{signal}", ProcessId.ToString(CultureInfo.InvariantCulture)]);
        await kill.WaitForExitAsync().WaitAsync(TestWait.Patience);
        Assert.That(kill.ExitCode, Is.Zero, $"kill -{signal}");
    }

    /// <summary>Runs an InfluxQL query and returns the first result's series.</summary>
    public async Task<List<Series>> QueryAsync(string database, string query)
    {
        string json = await Client.GetStringAsync($"query?db={Uri.EscapeDataString(database)}&epoch=ns&q={Uri.EscapeDataString(query)}");
        using JsonDocument doc = JsonDocument.Parse(json);
        JsonElement result = doc.RootElement.GetProperty("results")[0];
        if (result.TryGetProperty("error", out JsonElement error))
        {
            Assert.Fail($"query '{query}' failed: {error.GetString()}");
        }

        var series = new List<Series>();
        if (!result.TryGetProperty("series", out JsonElement all))
        {
            return series;
        }

        foreach (JsonElement s in all.EnumerateArray())
        {
            var tags = new Dictionary<string, string>();
            if (s.TryGetProperty("tags", out JsonElement t))
            {
                foreach (JsonProperty p in t.EnumerateObject())
                {
                    tags[p.Name] = p.Value.GetString() ?? string.Empty;
                }
            }

            string[] columns = [.. s.GetProperty("columns").EnumerateArray().Select(c => c.GetString()!)];
            List<object?[]> values = [.. s.TryGetProperty("values", out JsonElement v)
                ? v.EnumerateArray().Select(row => row.EnumerateArray().Select(Value).ToArray())
                : []];
            series.Add(new Series(s.TryGetProperty("name", out JsonElement n) ? n.GetString()! : string.Empty, tags, columns, values));
        }

        return series;
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        Client.Dispose();
        if (_ownsDirectory)
        {
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

    private static object? Value(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.String => e.GetString(),
        JsonValueKind.Number => e.TryGetInt64(out long l) ? (object)l : e.GetDouble(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => null,
    };

    internal sealed record Series(string Name, Dictionary<string, string> Tags, string[] Columns, List<object?[]> Values)
    {
        public object? this[int row, string column] => Values[row][Array.IndexOf(Columns, column)];
    }
}
