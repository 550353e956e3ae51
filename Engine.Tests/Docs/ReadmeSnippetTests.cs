using System.Collections.Immutable;
using System.Reflection;
using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Engine.Tests.Docs;

/// <summary>
/// Every <c>```csharp</c> block of README.md compiles as shown: each is compiled on its own, as the
/// top-level statements of a program, with Roslyn, against the assemblies the tests run with (the
/// library, its dependencies, the framework) and a default console project's implicit usings, plus
/// <see cref="Scaffold"/>: the example's own types, methods and values, which the README leaves to
/// the reader. No Engine namespace is imported for the block: a missing <c>using</c> fails it.
/// </summary>
/// <remarks>
/// <para>
/// Blocks that need a package the tests do not reference are skipped (reported as ignored, with what
/// is missing), never failed and never silently passed, in two ways:
/// </para>
/// <list type="bullet">
/// <item>a first line <c>// needs: Assembly.Name[, Other.Name]</c> names the assemblies the block needs
/// (for example an OpenTelemetry exporter); the block is compiled only when each is referenced;</item>
/// <item>a block whose <c>using</c> directives name a namespace no referenced assembly has, under one of
/// <see cref="OptionalNamespaces"/> (<c>Engine.Hosting</c>, the generic host, dependency injection,
/// configuration, OpenTelemetry), is skipped; any other namespace that does not resolve fails the
/// block;</item>
/// <item>a block that names <c>Engine.Hosting</c>'s or the generic host's entry points (see
/// <see cref="HostingMarkers"/>) is skipped while the tests do not reference <c>Engine.Hosting</c>; once
/// they do, it is compiled with a worker project's implicit usings (the host, dependency injection,
/// configuration, logging) as well, since a hosted service's project has them.</item>
/// </list>
/// <para>
/// So README's hosting sample compiles here as soon as the tests reference <c>Engine.Hosting</c>; a block
/// can also say so itself with <c>// needs: Engine.Hosting</c>.
/// </para>
/// </remarks>
public partial class ReadmeSnippetTests
{
    /// <summary>Namespaces of packages the library does not bring, whose blocks are skipped when no referenced assembly has them.</summary>
    private static readonly string[] OptionalNamespaces =
    [
        "Engine.Hosting",
        "Microsoft.Extensions.Hosting",
        "Microsoft.Extensions.DependencyInjection",
        "Microsoft.Extensions.Configuration",
        "Microsoft.Extensions.Options",
        "Microsoft.Extensions.Diagnostics.HealthChecks",
        "OpenTelemetry",
    ];

    /// <summary>Words that mark a block as a hosting sample (it needs <c>Engine.Hosting</c>).</summary>
    private static readonly string[] HostingMarkers = ["Engine.Hosting", "AddPipeline", "AddStage", "Host.Create", "builder.Services", "IServiceCollection", "IHostBuilder", "IHost "];

    /// <summary>What a worker project (<c>Microsoft.NET.Sdk.Worker</c>) adds to the implicit usings; given to hosting samples only.</summary>
    private static readonly string[] WorkerUsings = ["Microsoft.Extensions.Configuration", "Microsoft.Extensions.DependencyInjection", "Microsoft.Extensions.Hosting", "Microsoft.Extensions.Logging"];

    /// <summary>A console project's implicit usings (<c>ImplicitUsings</c> enabled).</summary>
    private const string ImplicitUsings = """
        global using System;
        global using System.Collections.Generic;
        global using System.IO;
        global using System.Linq;
        global using System.Net.Http;
        global using System.Threading;
        global using System.Threading.Tasks;
        """;

    /// <summary>
    /// What README's examples leave to the reader: their record types, the methods they call and the
    /// values they use without making them. Members are imported with <c>using static</c>, so a block
    /// reads them as it would its own locals; none of them imports an Engine namespace for the block.
    /// </summary>
    private const string Scaffold = """
        global using static ReadmeScaffold;

        public sealed record SensorEvent(string SensorId, string DeploymentId, double Reading);

        public sealed record Enriched(string SensorId, string DeploymentId, double Reading, ulong StateHash);

        public sealed record Alert(string DeploymentId, string SensorId, string Message);

        public sealed record DeploymentState(string Id, ulong ContentHash, bool Deleted);

        public static class ReadmeScaffold
        {
            public static SensorEvent evt => new("s1", "d1", 1.0);
            public static SensorEvent[] events => [evt];

            public static System.Threading.CancellationToken ct => default;

            public static Microsoft.Extensions.Logging.ILogger log => Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;

            public static Engine.Stages.Stage<SensorEvent> stage => throw new System.NotSupportedException("compiled, never run");

            public static Engine.Pipelines.Pipeline<SensorEvent> pipeline => throw new System.NotSupportedException("compiled, never run");

            public static System.Threading.Tasks.Task<Enriched> EnrichAsync(SensorEvent e, System.Threading.CancellationToken ct) =>
                System.Threading.Tasks.Task.FromResult(new Enriched(e.SensorId, e.DeploymentId, e.Reading, (ulong)e.Reading));

            public static System.Collections.Generic.IEnumerable<Alert> Detect(Enriched e) => [];

            public static System.Threading.Tasks.Task StoreAsync(System.Collections.Generic.IReadOnlyList<Alert> alerts, System.TimeSpan age, System.Threading.CancellationToken ct) =>
                System.Threading.Tasks.Task.CompletedTask;

            public static System.Threading.Tasks.Task SaveStateAsync(DeploymentState state, System.Threading.CancellationToken ct) =>
                System.Threading.Tasks.Task.CompletedTask;
        }
        """;

    private static readonly Lazy<ImmutableArray<MetadataReference>> References = new(LoadReferences);

    private static readonly Lazy<HashSet<string>> ReferencedNamespaces = new(ReadNamespaces);

    public static IEnumerable<TestCaseData> Blocks()
    {
        string readme = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "README.md"));
        int index = 0;
        foreach (Match block in CSharpBlock().Matches(readme))
        {
            index++;
            int line = readme.AsSpan(0, block.Index).Count('\n') + 1;
            yield return new TestCaseData(block.Groups[1].Value).SetArgDisplayNames($"block {index} (line {line})");
        }
    }

    [Test]
    public void README_has_csharp_blocks_to_compile()
    {
        Assert.That(Blocks().Count(), Is.GreaterThanOrEqualTo(6));
    }

    [TestCaseSource(nameof(Blocks))]
    public void A_README_csharp_block_compiles_as_shown(string code)
    {
        SyntaxTree tree = CSharpSyntaxTree.ParseText(code, new CSharpParseOptions(LanguageVersion.Latest), "README.cs");
        string[] needed = NeededAssemblies(code);
        string[] missingAssemblies = [.. needed.Where(a => !References.Value.Any(r => Path.GetFileNameWithoutExtension(r.Display) == a))];
        if (missingAssemblies.Length > 0)
        {
            Assert.Ignore("needs " + string.Join(", ", missingAssemblies) + ", which the tests do not reference");
        }

        bool hosting = HostingMarkers.Any(code.Contains);
        if (hosting && !References.Value.Any(r => Path.GetFileNameWithoutExtension(r.Display) == "Engine.Hosting"))
        {
            Assert.Ignore("a hosting sample: needs Engine.Hosting, which the tests do not reference");
        }

        string[] unresolved = [.. ((CompilationUnitSyntax)tree.GetRoot()).Usings
            .Where(u => u.StaticKeyword.IsKind(SyntaxKind.None) && u.Alias is null && u.Name is not null)
            .Select(u => u.Name!.ToString())
            .Where(ns => !ReferencedNamespaces.Value.Contains(ns))];
        string[] optional = [.. unresolved.Where(ns => OptionalNamespaces.Any(o => ns == o || ns.StartsWith(o + ".", StringComparison.Ordinal)))];
        Assert.That(unresolved.Except(optional), Is.Empty, "using directives that name no namespace of the library, its dependencies or the framework");
        if (optional.Length > 0)
        {
            Assert.Ignore("uses " + string.Join(", ", optional) + ", which no assembly the tests reference provides");
        }

        CSharpCompilation compilation = CSharpCompilation.Create(
            "ReadmeBlock",
            [tree, CSharpSyntaxTree.ParseText(ImplicitUsings + (hosting ? WorkerImplicitUsings() : ""), path: "Usings.cs"), CSharpSyntaxTree.ParseText(Scaffold, path: "Scaffold.cs")],
            References.Value,
            new CSharpCompilationOptions(OutputKind.ConsoleApplication, nullableContextOptions: NullableContextOptions.Enable));
        Diagnostic[] errors = [.. compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error)];

        Assert.That(errors.Select(e => e.ToString()), Is.Empty, "README block:\n" + code);
    }

    [Test]
    public void The_compiler_check_fails_a_block_with_a_missing_using()
    {
        // The Metrics block without its using: StageMetricsSnapshot is not found.
        const string code = "StageMetricsSnapshot m = stage.TakeMetricsSnapshot();\n";
        CSharpCompilation compilation = CSharpCompilation.Create(
            "ReadmeBlock",
            [CSharpSyntaxTree.ParseText(code), CSharpSyntaxTree.ParseText(ImplicitUsings), CSharpSyntaxTree.ParseText(Scaffold)],
            References.Value,
            new CSharpCompilationOptions(OutputKind.ConsoleApplication));

        Assert.That(compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).Select(d => d.Id), Does.Contain("CS0246"));
    }

    /// <summary>The worker project's implicit usings whose namespaces the references have.</summary>
    private static string WorkerImplicitUsings() =>
        string.Concat(WorkerUsings.Where(ReferencedNamespaces.Value.Contains).Select(ns => $"\nglobal using {ns};"));

    /// <summary>The assemblies a block's first line <c>// needs: A, B</c> names; none without one.</summary>
    private static string[] NeededAssemblies(string code)
    {
        Match needs = NeedsLine().Match(code);
        return needs.Success ? [.. needs.Groups[1].Value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)] : [];
    }

    /// <summary>The framework's assemblies, then every managed assembly beside the tests (the library, its dependencies, and whatever else the tests reference), one per name.</summary>
    private static ImmutableArray<MetadataReference> LoadReferences()
    {
        var byName = new Dictionary<string, MetadataReference>(StringComparer.OrdinalIgnoreCase);
        string platform = (string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!;
        IEnumerable<string> candidates = platform.Split(Path.PathSeparator)
            .Concat(Directory.EnumerateFiles(AppContext.BaseDirectory, "*.dll"));
        foreach (string path in candidates)
        {
            string name = Path.GetFileNameWithoutExtension(path);
            if (byName.ContainsKey(name) || !IsManaged(path))
            {
                continue;
            }

            byName[name] = MetadataReference.CreateFromFile(path);
        }

        return [.. byName.Values];
    }

    private static bool IsManaged(string path)
    {
        try
        {
            _ = AssemblyName.GetAssemblyName(path);
            return true;
        }
        catch (BadImageFormatException)
        {
            return false;
        }
    }

    /// <summary>Every namespace that holds a public type in the referenced assemblies.</summary>
    private static HashSet<string> ReadNamespaces()
    {
        CSharpCompilation compilation = CSharpCompilation.Create("Namespaces", references: References.Value);
        var names = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Stack<INamespaceSymbol>();
        pending.Push(compilation.GlobalNamespace);
        while (pending.Count > 0)
        {
            INamespaceSymbol ns = pending.Pop();
            if (!ns.IsGlobalNamespace && ns.GetTypeMembers().Any(t => t.DeclaredAccessibility == Accessibility.Public))
            {
                names.Add(ns.ToDisplayString());
            }

            foreach (INamespaceSymbol child in ns.GetNamespaceMembers())
            {
                pending.Push(child);
            }
        }

        return names;
    }

    [GeneratedRegex(@"^```csharp[^\n]*\n(.*?)^```", RegexOptions.Multiline | RegexOptions.Singleline)]
    private static partial Regex CSharpBlock();

    [GeneratedRegex(@"\A\s*//\s*needs:\s*([^\n]+)")]
    private static partial Regex NeedsLine();
}
