using System.Text.RegularExpressions;

namespace Engine.Tests.Architecture;

/// <summary>
/// The library's folders (one namespace each: <c>Engine/Shards</c> is <c>Engine.Shards</c>) depend on
/// one another in one direction only. Read from the sources: a folder depends on another when one of
/// its files has a <c>using Engine.Other;</c> or names a type as <c>Engine.Other.Type</c> or, from
/// inside the library, <c>Other.Type</c> (comments and XML docs do not count).
/// </summary>
/// <remarks>
/// The order they form today, bottom up: the vocabulary at the library's root (namespace
/// <c>Engine</c>: counts, full mode, drop reason, item context and failure, telemetry names), then Routing, Internal,
/// Retry, Dedupe, Tracing; Metrics; Shards; Stages, Loops, Limiters; Pipelines; Reporting.
/// </remarks>
public partial class FolderDependencyTests
{
    [Test]
    public void The_folders_of_the_library_depend_on_each_other_in_one_direction()
    {
        Dictionary<string, SortedSet<string>> graph = ReadGraph();
        Assert.That(graph.Keys, Has.Count.GreaterThan(5), "the library's sources were not found");

        Assert.That(FindCycles(graph).Select(Normalise), Is.Empty, "dependency cycles between folders: " + Describe(graph));
    }

    [Test]
    public void The_cycle_finder_finds_a_cycle_and_only_cycles()
    {
        var graph = new Dictionary<string, SortedSet<string>>
        {
            ["A"] = ["B"],
            ["B"] = ["C"],
            ["C"] = ["A", "D"],
            ["D"] = [],
        };
        Assert.That(FindCycles(graph).Select(Normalise), Is.EquivalentTo(new[] { "A > B > C" }));
    }

    /// <summary>Folder → the folders its code names.</summary>
    private static Dictionary<string, SortedSet<string>> ReadGraph()
    {
        string library = Path.Combine(FindRoot(), "Engine");
        string[] folders = [.. Directory.GetDirectories(library).Select(Path.GetFileName).OfType<string>().Where(f => f is not ("bin" or "obj"))];

        // Each folder's types, from its file names (a file per main type: Shard.Dedupe.cs is Shard, StageOfT.cs is Stage).
        Dictionary<string, HashSet<string>> types = folders.ToDictionary(
            f => f,
            f => Directory.EnumerateFiles(Path.Combine(library, f), "*.cs", SearchOption.AllDirectories)
                .Select(file => Path.GetFileNameWithoutExtension(file).Split('.')[0])
                .Select(name => name.EndsWith("OfT", StringComparison.Ordinal) ? name[..^3] : name)
                .ToHashSet());

        // Engine.Other.Type or Other.Type where Type is one of Other's (not a member access such as
        // options.Retry.Delay, nor a property that happens to share a folder's name), and usings.
        var qualified = new Regex($@"(?<![\w.])(?:Engine\.)?({string.Join('|', folders)})\.([A-Z]\w*)");
        var graph = new Dictionary<string, SortedSet<string>>();
        foreach (string folder in folders)
        {
            var uses = new SortedSet<string>();
            foreach (string file in Directory.EnumerateFiles(Path.Combine(library, folder), "*.cs", SearchOption.AllDirectories))
            {
                foreach (string line in File.ReadLines(file))
                {
                    string code = line.TrimStart();
                    if (code.StartsWith("//", StringComparison.Ordinal))
                    {
                        continue;
                    }

                    IEnumerable<string> used = Using().Matches(code).Select(m => m.Groups[1].Value).Concat(
                        qualified.Matches(code).Where(m => types[m.Groups[1].Value].Contains(m.Groups[2].Value)).Select(m => m.Groups[1].Value));
                    uses.UnionWith(used.Where(u => u != folder));
                }
            }

            graph[folder] = uses;
        }

        // Only edges between the library's own folders.
        foreach (SortedSet<string> uses in graph.Values)
        {
            uses.IntersectWith(graph.Keys);
        }

        return graph;
    }

    /// <summary>Every elementary cycle (Johnson-style depth-first search from each node, visiting only larger nodes).</summary>
    private static List<List<string>> FindCycles(Dictionary<string, SortedSet<string>> graph)
    {
        var cycles = new List<List<string>>();
        var nodes = graph.Keys.Order(StringComparer.Ordinal).ToList();
        foreach (string start in nodes)
        {
            var path = new List<string> { start };
            Walk(start);

            void Walk(string node)
            {
                foreach (string next in graph[node])
                {
                    if (next == start)
                    {
                        cycles.Add([.. path]);
                    }
                    else if (string.CompareOrdinal(next, start) > 0 && !path.Contains(next))
                    {
                        path.Add(next);
                        Walk(next);
                        path.RemoveAt(path.Count - 1);
                    }
                }
            }
        }

        return cycles;
    }

    /// <summary>A cycle written from its smallest folder, so the same cycle always reads the same.</summary>
    private static string Normalise(IReadOnlyList<string> cycle)
    {
        int first = cycle.Select((name, i) => (name, i)).MinBy(p => p.name, StringComparer.Ordinal).i;
        return string.Join(" > ", cycle.Skip(first).Concat(cycle.Take(first)));
    }

    private static string Describe(Dictionary<string, SortedSet<string>> graph) =>
        string.Join("; ", graph.Where(g => g.Value.Count > 0).Select(g => $"{g.Key} -> {string.Join(", ", g.Value)}"));

    private static string FindRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Engine.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new DirectoryNotFoundException("Engine.sln not found above " + AppContext.BaseDirectory);
    }

    [GeneratedRegex(@"^using (?:static )?Engine\.([A-Z][A-Za-z]*)\b")]
    private static partial Regex Using();
}
