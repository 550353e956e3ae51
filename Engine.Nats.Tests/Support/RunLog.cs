using System.Collections.Concurrent;
using System.Globalization;

namespace Engine.Nats.Tests.Support;

/// <summary>One handler run as the member program logs it (<c>--log-runs</c>); times are Stopwatch timestamps, comparable across processes of one machine.</summary>
internal sealed record Run(string Member, string Key, long Value, int Partition, ulong Token, int Attempt, bool Redelivered, long Start, long End, long Deadline, string Outcome)
{
    public override string ToString() => $"{Member} {Key}#{Value} p{Partition} token {Token} attempt {Attempt} redelivered {Redelivered} start {Start} end {End} deadline {Deadline} {Outcome}";
}

/// <summary>
/// Every handler run of every member process, and the lease-safety checks on them: no run started at or
/// after its lease's safe deadline; no two owners of a partition overlapping (every run of an older token
/// started before the first run of a newer one); nothing lost; counting each item's last run, no key's
/// item ran after a later item of the key finished; every run after an item's first (other than a local
/// retry) knew it was a redelivery.
/// </summary>
internal sealed class RunLog
{
    private readonly ConcurrentQueue<Run> _runs = new();
    private readonly HashSet<(string, long)> _done = [];
    private readonly TaskCompletionSource _allDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _expected = int.MaxValue;

    public IReadOnlyList<Run> Runs => [.. _runs];

    public void Add(string member, string line)
    {
        string[] p = line.Split(' ');
        var run = new Run(member, p[1], Long(p[2]), (int)Long(p[3]), ulong.Parse(p[4], CultureInfo.InvariantCulture), (int)Long(p[5]), p[6] == "1", Long(p[7]), Long(p[8]), Long(p[9]), p[10]);
        _runs.Enqueue(run);
        if (run.Outcome == "ok")
        {
            lock (_done)
            {
                if (_done.Add((run.Key, run.Value)) && _done.Count >= _expected)
                {
                    _allDone.TrySetResult();
                }
            }
        }
    }

    /// <summary>Completes once <paramref name="count"/> distinct items have a successful run.</summary>
    public Task AllDoneAsync(int count)
    {
        lock (_done)
        {
            _expected = count;
            if (_done.Count >= count)
            {
                _allDone.TrySetResult();
            }
        }

        return _allDone.Task;
    }

    public static List<Run> LateStarts(IReadOnlyList<Run> runs) => [.. runs.Where(r => r.Start >= r.Deadline)];

    /// <summary>Per partition and pair of consecutive tokens: a run of the older token that started at or after the newer token's first run.</summary>
    public static List<string> Overlaps(IReadOnlyList<Run> runs)
    {
        var found = new List<string>();
        foreach (IGrouping<int, Run> partition in runs.GroupBy(r => r.Partition))
        {
            var epochs = partition.GroupBy(r => r.Token).OrderBy(g => g.Key).ToList();
            for (int i = 1; i < epochs.Count; i++)
            {
                long newFirst = epochs[i].Min(r => r.Start);
                foreach (IGrouping<ulong, Run> older in epochs.Take(i))
                {
                    found.AddRange(older.Where(r => r.Start >= newFirst).Select(r => $"{r} started after token {epochs[i].Key}'s first run at {newFirst}"));
                }
            }
        }

        return found;
    }

    public static long Lost(IReadOnlyList<Run> runs, IReadOnlyDictionary<string, long> expected)
    {
        var done = runs.Where(r => r.Outcome == "ok").Select(r => (r.Key, r.Value)).ToHashSet();
        return expected.Sum(e => Enumerable.Range(1, (int)e.Value).LongCount(v => !done.Contains((e.Key, v))));
    }

    /// <summary>Per key, each value's last run (by start): one that ended after the next value's last run started.</summary>
    public static List<string> StaleFinishes(IReadOnlyList<Run> runs)
    {
        var found = new List<string>();
        foreach (IGrouping<string, Run> key in runs.GroupBy(r => r.Key))
        {
            var last = key.GroupBy(r => r.Value).Select(g => g.MaxBy(r => r.Start)!).OrderBy(r => r.Value).ToList();
            for (int i = 1; i < last.Count; i++)
            {
                if (last[i - 1].End > last[i].Start)
                {
                    found.Add($"{last[i - 1]} ended after {last[i]} started");
                }
            }
        }

        return found;
    }

    /// <summary>Runs after an item's first that are not a local retry (attempt 1) and were not flagged as redelivered.</summary>
    public static List<Run> UnflaggedReruns(IReadOnlyList<Run> runs) =>
        [.. runs.GroupBy(r => (r.Key, r.Value)).SelectMany(g => g.OrderBy(r => r.Start).Skip(1)).Where(r => r.Attempt == 1 && !r.Redelivered)];

    /// <summary>Successful runs beyond one per item (at-least-once duplicates).</summary>
    public static long Duplicates(IReadOnlyList<Run> runs)
    {
        var ok = runs.Where(r => r.Outcome == "ok").ToList();
        return ok.Count - ok.Select(r => (r.Key, r.Value)).Distinct().Count();
    }

    private static long Long(string text) => long.Parse(text, CultureInfo.InvariantCulture);
}
