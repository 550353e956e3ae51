using System.Collections.Concurrent;

namespace Engine.Metrics;

/// <summary>
/// The values of a stage's <c>kind</c> dimension, capped so cardinality cannot explode: the first
/// <c>MaxKinds</c> distinct values get their own index, every later one (and a null or empty kind)
/// counts as <c>other</c> (index 0). Looking up a known kind takes no lock; the lock is taken only the
/// first time a kind is seen, at most <c>MaxKinds</c> times.
/// </summary>
internal sealed class KindTable
{
    public const string Other = "other";

    private readonly ConcurrentDictionary<string, int> _index = new(StringComparer.Ordinal);
    private readonly string[] _names;
    private readonly Lock _gate = new();
    private int _count = 1;

    public KindTable(int maxKinds)
    {
        _names = new string[maxKinds + 1];
        _names[0] = Other;
    }

    /// <summary>Index slots: the capped kinds plus <c>other</c>.</summary>
    public int Capacity => _names.Length;

    /// <summary>Kinds known so far, <c>other</c> first.</summary>
    public IReadOnlyList<string> Names => _names[..Volatile.Read(ref _count)];

    public int IndexOf(string? kind)
    {
        if (string.IsNullOrEmpty(kind) || kind == Other)
        {
            return 0;
        }

        if (_index.TryGetValue(kind, out int index))
        {
            return index;
        }

        // Full: every unknown kind is "other" from now on, without taking the lock.
        if (Volatile.Read(ref _count) >= _names.Length)
        {
            return 0;
        }

        lock (_gate)
        {
            if (_index.TryGetValue(kind, out index))
            {
                return index;
            }

            if (_count >= _names.Length)
            {
                return 0;
            }

            index = _count;
            _names[index] = kind;
            _index[kind] = index;
            Volatile.Write(ref _count, index + 1);
            return index;
        }
    }
}
