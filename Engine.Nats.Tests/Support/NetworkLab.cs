using System.Diagnostics;

namespace Engine.Nats.Tests.Support;

/// <summary>
/// A private network for partition tests: two network namespaces of its own (unique names), joined by a
/// veth pair with addresses it gives them (<see cref="ServerAddress"/> on the server side,
/// <see cref="MemberAddress"/> on the member side, a /30 that exists only inside these namespaces).
/// <see cref="CutAsync"/> takes the member side's link down (this kernel has no netem, and a link down
/// drops everything); <see cref="HealAsync"/> brings it back. Disposing deletes both namespaces (and
/// with them the veth pair). Where namespaces cannot be created (not root, no <c>ip</c>), the test is
/// skipped with the reason.
/// </summary>
internal sealed class NetworkLab : IAsyncDisposable
{
    public const string ServerAddress = "10.223.23.1";
    public const string MemberAddress = "10.223.23.2";
    private readonly string _ip;
    private readonly string _memberLink;
    private readonly List<string> _created = [];

    private NetworkLab(string ip, string id)
    {
        _ip = ip;
        ServerSide = $"engine-{id}-srv";
        MemberSide = $"engine-{id}-mem";
        _memberLink = $"e{id}m";
        ServerLink = $"e{id}s";
    }

    /// <summary>The namespace of the server (and of the members that stay connected).</summary>
    public string ServerSide { get; }

    /// <summary>The namespace of the member that gets cut off.</summary>
    public string MemberSide { get; }

    private string ServerLink { get; }

    public static async Task<NetworkLab> CreateAsync()
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.Ignore("network namespaces need Linux");
        }

        if (!Environment.IsPrivilegedProcess)
        {
            Assert.Ignore("creating network namespaces needs root (CI runs as root)");
        }

        string? ip = new[] { "/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip" }.FirstOrDefault(File.Exists);
        if (ip is null)
        {
            Assert.Ignore("`ip` not found: install iproute2 (apt-get install -y iproute2) to run the partition tests");
        }

        var lab = new NetworkLab(ip!, Guid.NewGuid().ToString("N")[..8]);
        (int code, string output) = await lab.IpAsync("netns", "add", lab.ServerSide);
        if (code != 0)
        {
            Assert.Ignore("cannot create a network namespace here: " + output.Trim());
        }

        lab._created.Add(lab.ServerSide);
        try
        {
            await lab.MustAsync("netns", "add", lab.MemberSide);
            lab._created.Add(lab.MemberSide);
            await lab.MustAsync("link", "add", lab.ServerLink, "netns", lab.ServerSide, "type", "veth", "peer", "name", lab._memberLink, "netns", lab.MemberSide);
            await lab.MustAsync("-n", lab.ServerSide, "addr", "add", ServerAddress + "/30", "dev", lab.ServerLink);
            await lab.MustAsync("-n", lab.MemberSide, "addr", "add", MemberAddress + "/30", "dev", lab._memberLink);
            foreach ((string ns, string link) in new[] { (lab.ServerSide, lab.ServerLink), (lab.MemberSide, lab._memberLink) })
            {
                await lab.MustAsync("-n", ns, "link", "set", "lo", "up");
                await lab.MustAsync("-n", ns, "link", "set", link, "up");
            }
        }
        catch
        {
            await lab.DisposeAsync();
            throw;
        }

        return lab;
    }

    /// <summary>Cuts the member side off: its end of the veth pair goes down, so nothing passes either way.</summary>
    public Task CutAsync() => MustAsync("-n", MemberSide, "link", "set", _memberLink, "down");

    /// <summary>Heals the cut.</summary>
    public Task HealAsync() => MustAsync("-n", MemberSide, "link", "set", _memberLink, "up");

    public async ValueTask DisposeAsync()
    {
        foreach (string ns in _created)
        {
            // Always attempted; a namespace whose processes are gone disappears with its veth end.
            await IpAsync("netns", "del", ns);
        }

        _created.Clear();
    }

    private async Task MustAsync(params string[] arguments)
    {
        (int code, string output) = await IpAsync(arguments);
        Assert.That(code, Is.Zero, $"ip {string.Join(' ', arguments)}: {output}");
    }

    private async Task<(int Code, string Output)> IpAsync(params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(_ip, arguments) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false })!;
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> errors = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().Within();
        return (process.ExitCode, await output + await errors);
    }
}
