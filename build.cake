// Build script: dotnet tool restore && dotnet cake [--target=Build|Test|Bench|BenchNats|Demo|Soak|Pack|Clean] [--configuration=Release]
// Pack only: [--version-suffix=local.20261208.101500] [--public-release=true]
// Bench only: [--filter='*KeyedSharding*'] [--job=short]
// Soak only: [--soak-duration=1800] [--soak-rate=20000] [--soak-interval=30]
var target = Argument("target", "Default");
var configuration = Argument("configuration", "Release");
var benchFilter = Argument("filter", "*");
var benchJob = Argument("job", "");
var soakDuration = Argument("soak-duration", 1800.0);
var soakRate = Argument("soak-rate", 20000);
var soakInterval = Argument("soak-interval", 30.0);
// Pack only: each pack gets a prerelease suffix of its own, so a local feed packed again is not shadowed
// by the NuGet cache (which keeps the first package of a version); --public-release=true packs 1.0.0.
var publicRelease = Argument("public-release", false);
var versionSuffix = Argument("version-suffix", "local." + DateTime.UtcNow.ToString("yyyyMMdd.HHmmss"));
var solution = "./Engine.sln";
var artifacts = Directory("./artifacts");

Task("Clean")
    .Does(() =>
{
    CleanDirectory(artifacts);
    DotNetClean(solution, new DotNetCleanSettings { Configuration = configuration });
});

Task("Build")
    .Does(() =>
{
    // A public release's assemblies carry its version too (the packs reuse this build).
    var settings = new DotNetBuildSettings { Configuration = configuration, MSBuildSettings = new DotNetMSBuildSettings() };
    if (publicRelease)
    {
        settings.MSBuildSettings.Properties["PublicRelease"] = new[] { "true" };
    }

    DotNetBuild(solution, settings);
});

Task("Test")
    .IsDependentOn("Build")
    .Does(() =>
{
    DotNetTest(solution, new DotNetTestSettings { Configuration = configuration, NoBuild = true });
});

Task("Bench")
    .Does(() =>
{
    // The full set unless --filter narrows it; --job=short is the quick mode (see docs/benchmarks.md).
    // Results land in BenchmarkDotNet.Artifacts/.
    var benchArguments = new ProcessArgumentBuilder().Append("--filter").AppendQuoted(benchFilter);
    if (!string.IsNullOrEmpty(benchJob))
    {
        benchArguments.Append("--job").Append(benchJob);
    }

    DotNetRun("./Engine.Benchmarks/Engine.Benchmarks.csproj", benchArguments, new DotNetRunSettings { Configuration = "Release" });
});

Task("BenchNats")
    .Does(() =>
{
    // End-to-end throughput of the distributed stage with 1, 2 and 3 member processes beside the
    // in-process stage; starts its own nats-server (see docs/scale-out.md).
    DotNetRun("./Engine.Nats.Benchmarks/Engine.Nats.Benchmarks.csproj", new DotNetRunSettings { Configuration = "Release" });
});

Task("Demo")
    .Does(() =>
{
    // The README's first command: the demo under load for 15 s, then its summary line.
    DotNetRun("./Engine.Demo/Engine.Demo.csproj", new DotNetRunSettings { Configuration = configuration });
});

Task("Soak")
    .Does(() =>
{
    // The demo for --soak-duration seconds at --soak-rate items/s, then as long idle, sampling memory,
    // GC heap, gen-2 count, threads and throughput every --soak-interval seconds; fails on a stalled
    // interval (exit code 4) or a run that is not conserved (see docs/soak.md).
    var soakArguments = new ProcessArgumentBuilder()
        .Append("--no-live").Append("--soak")
        .Append("--duration").Append(soakDuration.ToString(System.Globalization.CultureInfo.InvariantCulture))
        .Append("--rate").Append(soakRate.ToString(System.Globalization.CultureInfo.InvariantCulture))
        .Append("--report-interval").Append(soakInterval.ToString(System.Globalization.CultureInfo.InvariantCulture));
    DotNetRun("./Engine.Demo/Engine.Demo.csproj", soakArguments, new DotNetRunSettings { Configuration = "Release" });
});

Task("Pack")
    .IsDependentOn("Build")
    .Does(() =>
{
    // Each package with its .snupkg symbols beside it.
    foreach (var project in new[] { "./Engine/Engine.csproj", "./Engine.Hosting/Engine.Hosting.csproj", "./Engine.Testing/Engine.Testing.csproj", "./Engine.Nats/Engine.Nats.csproj" })
    {
        var settings = new DotNetPackSettings { Configuration = configuration, NoBuild = true, OutputDirectory = artifacts, MSBuildSettings = new DotNetMSBuildSettings() };
        if (publicRelease)
        {
            settings.MSBuildSettings.Properties["PublicRelease"] = new[] { "true" };
        }
        else
        {
            settings.MSBuildSettings.Properties["VersionSuffix"] = new[] { versionSuffix };
        }

        DotNetPack(project, settings);
    }
});

Task("Default")
    .IsDependentOn("Test");

RunTarget(target);
