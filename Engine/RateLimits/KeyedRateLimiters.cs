using System.Diagnostics;
using System.Threading.RateLimiting;
using Engine.Internal;
using Engine.Routing;

namespace Engine.RateLimits;

/// <summary>
/// One shard's limiters, one per key, made on demand and bounded by least-recently-used eviction
/// (evicted limiters are disposed and counted). Its own lock, never shared with another shard; held
/// only for the lookup, the lazy replenish and the acquire of one permit.
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
    private readonly TimeProvider _clock;
    private long _evictions;

    public KeyedRateLimiters(Func<ItemKey, RateLimiter> factory, int capacity, TimeProvider clock)
    {
        _factory = factory;
        _capacity = capacity;
        _clock = clock;
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
            long now = _clock.GetTimestamp();
            if (entry.Limiter is ReplenishingRateLimiter { IsAutoReplenishing: false } replenishing && replenishing.ReplenishmentPeriod > TimeSpan.Zero)
            {
                // Replenished on the stage's clock, lazily: one TryReplenish per whole period elapsed.
                long period = Math.Max(1, ClockTicks.From(_clock, replenishing.ReplenishmentPeriod));
                long periods = (now - entry.Replenished) / period;
                if (periods > 0)
                {
                    entry.Replenished += periods * period;

                    // A bucket is full after a few periods at most; more calls only spin.
                    for (long i = Math.Min(periods, 1024); i > 0; i--)
                    {
                        replenishing.TryReplenish();
                    }
                }
            }

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

        var entry = new Entry(key, limiter, _clock.GetTimestamp());
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

    private sealed class Entry(ItemKey key, RateLimiter limiter, long replenished)
    {
        public ItemKey Key { get; } = key;

        public RateLimiter Limiter { get; } = limiter;

        /// <summary>The clock reading up to which the limiter has been replenished.</summary>
        public long Replenished { get; set; } = replenished;
    }
}
