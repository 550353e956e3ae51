using System.Diagnostics;
using System.Threading.RateLimiting;
using Engine.Routing;

namespace Engine.RateLimits;

/// <summary>
/// One shard's limiters, one per key, made on demand and bounded by least-recently-used eviction
/// (evicted limiters are disposed and counted). Its own lock, never shared with another shard; held
/// only for the lookup and the acquire of one permit.
/// </summary>
[DebuggerDisplay("Keys = {Count}, Evictions = {Evictions}")]
internal sealed class KeyedRateLimiters
{
    private readonly Lock _lock = new();
    private readonly Dictionary<ItemKey, LinkedListNode<Entry>> _index = [];

    /// <summary>Most recently used first.</summary>
    private readonly LinkedList<Entry> _order = new();
    private readonly Func<ItemKey, RateLimiter> _factory;
    private readonly int _capacity;
    private long _evictions;

    public KeyedRateLimiters(Func<ItemKey, RateLimiter> factory, int capacity)
    {
        _factory = factory;
        _capacity = capacity;
    }

    /// <summary>Keys with a limiter now.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _index.Count;
            }
        }
    }

    /// <summary>Limiters evicted to stay within the capacity.</summary>
    public long Evictions => Volatile.Read(ref _evictions);

    /// <summary>Takes one permit for <paramref name="key"/>.</summary>
    /// <returns>The lease (acquired or not); the caller disposes it.</returns>
    /// <exception cref="Exception">The factory or the limiter threw (the caller names the option).</exception>
    public RateLimitLease Acquire(in ItemKey key)
    {
        lock (_lock)
        {
            Entry entry = Find(key);
            return entry.Limiter.AttemptAcquire(1);
        }
    }

    private Entry Find(in ItemKey key)
    {
        if (_index.TryGetValue(key, out LinkedListNode<Entry>? node))
        {
            _order.Remove(node);
            _order.AddFirst(node);
            return node.Value;
        }

        RateLimiter limiter = _factory(key) ?? throw new InvalidOperationException("the limiter factory returned null");
        if (_index.Count >= _capacity)
        {
            LinkedListNode<Entry> last = _order.Last!;
            _order.RemoveLast();
            _index.Remove(last.Value.Key);
            last.Value.Limiter.Dispose();
            Interlocked.Increment(ref _evictions);
        }

        var entry = new Entry(key, limiter);
        _index.Add(key, _order.AddFirst(entry));
        return entry;
    }

    /// <summary>Disposes every limiter (the stage has ended).</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            foreach (Entry entry in _order)
            {
                entry.Limiter.Dispose();
            }

            _order.Clear();
            _index.Clear();
        }
    }

    private sealed record Entry(ItemKey Key, RateLimiter Limiter);
}
