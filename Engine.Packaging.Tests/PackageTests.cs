using System.Collections.Concurrent;
using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using Engine.Nats.Tests.Support;

namespace Engine.Packaging.Tests;

/// <summary>
/// The packages as a new user meets them: the four projects are packed (with a prerelease version of
/// this run's own, so no package in the NuGet cache can stand in for them) into a local feed, and one
/// console project per package, outside the repository, references only the packages its
/// <c>PACKAGE.md</c> says to add (<c>dotnet add package ...</c> lines) and has that file's C# sample as
/// its program. The four are restored and built in one go from the feed and nuget.org, then run:
/// what compiles here compiles for a user, since nothing of the repository is in reach.
/// </summary>
[NonParallelizable]
public partial class PackageTests
{
    /// <summary>How long one consumer may take to run (a generous bound for a loaded machine, not a measurement).</summary>
    private static readonly TimeSpan RunPatience = TimeSpan.FromSeconds(90);

    private static readonly string[] Packages = ["Engine", "Engine.Hosting", "Engine.Nats", "Engine.Testing"];

    private string _work = string.Empty;
    private string _version = string.Empty;

    /// <summary>The repository: the tests run from {root}/Engine.Packaging.Tests/bin/{configuration}/net10.0.</summary>
    private static string Root => Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", ".."));

    private static string Configuration => new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;

    [OneTimeSetUp]
    public async Task Pack_the_packages_and_build_one_consumer_of_each()
    {
        _version = $"1.0.0-pkgtest.{DateTime.UtcNow:yyyyMMddHHmmss}.{Environment.ProcessId}";
        _work = Path.Combine(Path.GetTempPath(), "engine-packages-" + Guid.NewGuid().ToString("N"));
        string feed = Path.Combine(_work, "feed");
        Directory.CreateDirectory(feed);

        // One MSBuild run packs the four; the projects were built by this project's references.
        string pack = Path.Combine(_work, "pack.proj");
        string projects = string.Join(';', Packages.Select(p => Path.Combine(Root, p, p + ".csproj")));
        await File.WriteAllTextAsync(pack, $"""
            <Project>
              <Target Name="Pack">
                <MSBuild Projects="{projects}" Targets="Pack" Properties="Configuration={Configuration};NoBuild=true;VersionSuffix={_version["1.0.0-".Length..]};PackageOutputPath={feed}" />
              </Target>
            </Project>
            """);
        await RunToEndAsync(Dotnet(), ["msbuild", pack, "-t:Pack", "-nologo", "-v:m"], _work, "pack");
        foreach (string package in Packages)
        {
            Assert.That(File.Exists(Path.Combine(feed, $"{package}.{_version}.nupkg")), $"{package} {_version} was packed");
        }

        string consumers = Path.Combine(_work, "consumers");
        Directory.CreateDirectory(consumers);
        await File.WriteAllTextAsync(Path.Combine(consumers, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="local" value="{feed}" />
                <add key="nuget.org" value="https://api.nuget.org/v3/index.json" />
              </packageSources>
            </configuration>
            """);

        Dictionary<string, string> pinned = PinnedVersions();
        var solution = new StringBuilder("<Solution>\n");
        foreach (string package in Packages)
        {
            string readme = await File.ReadAllTextAsync(Path.Combine(Root, package, "PACKAGE.md"));
            string[] added = [.. AddPackageLine().Matches(readme).Select(m => m.Groups[1].Value)];
            Assert.That(added, Does.Contain(package), $"{package}/PACKAGE.md says to add {package}");
            string references = string.Join("\n", added.Select(p => $"""    <PackageReference Include="{p}" Version="{(Packages.Contains(p) ? _version : pinned[p])}" />"""));
            string directory = Path.Combine(consumers, package);
            Directory.CreateDirectory(directory);

            // What `dotnet new console` makes, with the packages the readme names.
            await File.WriteAllTextAsync(Path.Combine(directory, $"{package}.Consumer.csproj"), $"""
                <Project Sdk="Microsoft.NET.Sdk">
                  <PropertyGroup>
                    <OutputType>Exe</OutputType>
                    <TargetFramework>net10.0</TargetFramework>
                    <ImplicitUsings>enable</ImplicitUsings>
                    <Nullable>enable</Nullable>
                  </PropertyGroup>
                  <ItemGroup>
                {references}
                  </ItemGroup>
                </Project>
                """);
            await File.WriteAllTextAsync(Path.Combine(directory, "Program.cs"), Sample(readme, package));
            solution.Append(SolutionEntry(package));
        }

        solution.Append("</Solution>\n");
        await File.WriteAllTextAsync(Path.Combine(consumers, "consumers.slnx"), solution.ToString());

        // One restore and build of the four (the third-party packages come from the NuGet cache when there).
        await RunToEndAsync(Dotnet(), ["build", Path.Combine(consumers, "consumers.slnx"), "-c", "Debug", "-nologo", "-v:m"], consumers, "build");
    }

    [OneTimeTearDown]
    public void Remove_the_feed_and_this_run_s_packages_from_the_cache()
    {
        if (_work.Length > 0 && Directory.Exists(_work))
        {
            Directory.Delete(_work, recursive: true);
        }

        string cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } set
            ? set
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        foreach (string package in Packages)
        {
            string extracted = Path.Combine(cache, package.ToLowerInvariant(), _version);
            if (_version.Length > 0 && Directory.Exists(extracted))
            {
                Directory.Delete(extracted, recursive: true);
            }

            string parent = Path.GetDirectoryName(extracted)!;
            if (Directory.Exists(parent) && !Directory.EnumerateFileSystemEntries(parent).Any())
            {
                Directory.Delete(parent);
            }
        }
    }

    [Test]
    public void Every_package_carries_its_own_readme_licence_description_and_tags()
    {
        var tagsSeen = new List<string>();
        Assert.Multiple(() =>
        {
            foreach (string package in Packages)
            {
                using ZipArchive nupkg = ZipFile.OpenRead(Path.Combine(_work, "feed", $"{package}.{_version}.nupkg"));
                Assert.That(nupkg.GetEntry("LICENSE"), Is.Not.Null, package + ": the licence file");
                Assert.That(nupkg.GetEntry("PACKAGE.md"), Is.Not.Null, package + ": the package readme");
                using var reader = new StreamReader(nupkg.GetEntry($"{package}.nuspec")!.Open());
                XElement metadata = XDocument.Parse(reader.ReadToEnd()).Root!.Elements().Single(e => e.Name.LocalName == "metadata");
                string Field(string name) => metadata.Elements().SingleOrDefault(e => e.Name.LocalName == name)?.Value ?? string.Empty;
                Assert.That(Field("readme"), Is.EqualTo("PACKAGE.md"), package);
                Assert.That(Field("version"), Is.EqualTo(_version), package);

                // One version for all (Directory.Build.props): a package that builds on Engine asks for this very one.
                foreach (XElement engine in metadata.Descendants().Where(e => e.Name.LocalName == "dependency" && (string?)e.Attribute("id") == "Engine"))
                {
                    Assert.That((string?)engine.Attribute("version"), Is.EqualTo(_version), package + ": its Engine dependency");
                }

                Assert.That(Field("description"), Does.Contain(Describes(package)), package);
                Assert.That(Field("tags"), Is.Not.Empty, package);
                Assert.That(tagsSeen, Does.Not.Contain(Field("tags")), package + ": tags of its own");
                tagsSeen.Add(Field("tags"));
            }
        });
    }

    [Test]
    public async Task The_Engine_sample_runs_from_the_package_alone()
    {
        (int exitCode, string output) = await RunToEndAsync(Dotnet(), [Consumer("Engine")], _work, "the Engine sample");
        Assert.That(exitCode, Is.Zero);
        Assert.That(output, Does.Contain("HELLO"));
    }

    [Test]
    public async Task The_Engine_Hosting_sample_runs_from_the_packages_its_readme_names_and_stops_on_SIGTERM()
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS())
        {
            Assert.Ignore("SIGTERM is a POSIX signal.");
        }

        var log = new ConcurrentQueue<string>();
        Process host = await Engine.Tests.Support.LocalServer.StartAsync(Dotnet(), [Consumer("Engine.Hosting")], "Application started", log, RunPatience);
        try
        {
            using (Process kill = Process.Start("kill", ["-TERM", host.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync().WaitAsync(RunPatience);
            }

            await host.WaitForExitAsync().WaitAsync(RunPatience);
            Assert.That(host.ExitCode, Is.Zero, () => string.Join('\n', log));
        }
        finally
        {
            await Engine.Tests.Support.LocalServer.KillAsync(host, RunPatience);
        }
    }

    [Test]
    public async Task The_Engine_Nats_sample_runs_from_the_package_alone_against_a_server()
    {
        await using NatsServer server = await NatsServer.StartNewAsync();
        (int exitCode, string output) = await RunToEndAsync(Dotnet(), [Consumer("Engine.Nats"), server.Url], _work, "the Engine.Nats sample");
        Assert.That(exitCode, Is.Zero, output);
        Assert.That(output, Does.Contain("handled 10 orders"));
    }

    [Test]
    public async Task The_Engine_Testing_sample_runs_from_the_package_alone_on_virtual_time()
    {
        (int exitCode, string output) = await RunToEndAsync(Dotnet(), [Consumer("Engine.Testing")], _work, "the Engine.Testing sample");
        Assert.That(exitCode, Is.Zero, output);

        // The write fails once and is retried a virtual second later: no real second passes (the run's
        // own duration is not asserted; the sample prints what the harness saw).
        Assert.That(output, Does.Contain("saved 1 order(s), on attempt 2, 1 s after it was written; processed 1"));
    }

    /// <summary>A phrase each package's description must hold: what the package is for.</summary>
    private static string Describes(string package) => package switch
    {
        "Engine" => "dataflow engine",
        "Engine.Nats" => "NATS",
        "Engine.Testing" => "Deterministic tests",
        _ => "host",
    };

    /// <summary>The first C# block of a PACKAGE.md: the sample a user pastes.</summary>
    private static string Sample(string readme, string package)
    {
        Match block = CSharpBlock().Match(readme);
        Assert.That(block.Success, $"{package}/PACKAGE.md has a C# sample");
        return block.Groups[1].Value;
    }

    private static string SolutionEntry(string package) => $"  <Project Path=\"{package}/{package}.Consumer.csproj\" />\n";

    private string Consumer(string package) => Path.Combine(_work, "consumers", package, "bin", "Debug", "net10.0", $"{package}.Consumer.dll");

    /// <summary>The versions the repository pins (Directory.Packages.props), for the third-party packages a readme names.</summary>
    private static Dictionary<string, string> PinnedVersions() =>
        PinnedVersion().Matches(File.ReadAllText(Path.Combine(Root, "Directory.Packages.props")))
            .ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value, StringComparer.OrdinalIgnoreCase);

    private static string Dotnet() => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";

    /// <summary>Runs a process to its end (within <see cref="RunPatience"/>) and returns its exit code and output; a build step that fails fails the test with its output.</summary>
    private static async Task<(int ExitCode, string Output)> RunToEndAsync(string executable, string[] arguments, string directory, string what)
    {
        var start = new ProcessStartInfo(executable, arguments)
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };

        // The test host runs under `dotnet test`, whose MSBuild settings must not leak into a build of
        // other projects (they would point it at this build's SDK resolution and nodes).
        foreach (string variable in start.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase) || k.StartsWith("MSBUILD", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(variable);
        }

        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        using var process = new Process { StartInfo = start };
        var output = new ConcurrentQueue<string>();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { output.Enqueue(e.Data); } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { output.Enqueue(e.Data); } };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await process.WaitForExitAsync().WaitAsync(what is "pack" or "build" ? RunPatience * 3 : RunPatience);
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{what} did not end in time:\n{string.Join('\n', output)}");
        }

        string text = string.Join('\n', output);
        if (what is "pack" or "build")
        {
            Assert.That(process.ExitCode, Is.Zero, $"{what} failed:\n{text}");
        }

        return (process.ExitCode, text);
    }

    [GeneratedRegex(@"^dotnet add package ([A-Za-z0-9_.]+)\s*$", RegexOptions.Multiline)]
    private static partial Regex AddPackageLine();

    [GeneratedRegex(@"```csharp\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex CSharpBlock();

    [GeneratedRegex("<PackageVersion Include=\"([^\"]+)\" Version=\"([^\"]+)\"")]
    private static partial Regex PinnedVersion();
}
