using System.Collections.Concurrent;

namespace Engine.Nats.Tests.Support;

/// <summary>
/// What a distributed stage processed, per key in processing order, and the checks on it: nothing lost,
/// per-key order kept (a replay after a crash must repeat a key's unacknowledged tail in order before
/// anything new), and how many duplicates.
/// </summary>
internal sealed class KeyedLog
{
    private readonly ConcurrentDictionary<string, List<long>> _byKey = new(StringComparer.Ordinal);
    private long _total;

    public long Total => Interlocked.Read(ref _total);

    public void Add(string key, long value)
    {
        List<long> values = _byKey.GetOrAdd(key, _ => []);
        lock (values)
        {
            values.Add(value);
        }

        Interlocked.Increment(ref _total);
    }

    /// <summary>Distinct (key, value) pairs seen.</summary>
    public long Distinct => _byKey.Values.Sum(v => { lock (v) { return (long)v.Distinct().Count(); } });

    public long Duplicates => Total - Distinct;

    /// <summary>Values 1..expected of each key that never ran.</summary>
    public long Lost(IReadOnlyDictionary<string, long> expected) =>
        expected.Sum(e => _byKey.TryGetValue(e.Key, out List<long>? v) ? e.Value - v.Where(x => x >= 1 && x <= e.Value).Distinct().Count() : e.Value);

    /// <summary>Descriptions of per-key order violations (empty when order held).</summary>
    public List<string> OrderViolations()
    {
        var violations = new List<string>();
        foreach ((string key, List<long> values) in _byKey)
        {
            long previous = 0;
            long mustReach = 0;
            lock (values)
            {
                foreach (long value in values)
                {
                    if (value > previous + 1)
                    {
                        violations.Add($"{key}: {value} after {previous} (skipped ahead)");
                    }
                    else if (value <= previous)
                    {
                        // A replay starts (a crash redelivered the key's unacknowledged tail): it must run
                        // on, one by one, at least to where the key had got, so nothing newer ran first.
                        mustReach = Math.Max(mustReach, previous);
                    }

                    previous = value;
                }

                if (previous < mustReach)
                {
                    violations.Add($"{key}: a replay stopped at {previous} before {mustReach}");
                }
            }
        }

        return violations;
    }
}
