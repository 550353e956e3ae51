using System.Threading.RateLimiting;
using Engine.Routing;

namespace Engine.RateLimits;

/// <summary>
/// A stage's rate limit, applied by wrapping its handler: before the user's handler runs, the item
/// takes a permit, or the wrapper throws <see cref="RateLimitedException"/> for the shard to shape or
/// drop it. Built only for a stage with <c>RateLimit</c> set, so other stages pay nothing for it.
/// </summary>
/// <remarks>
/// Per-key limiters live in one <see cref="KeyedRateLimiters"/> table per shard, picked by the rate
/// key's hash as the stage routes items: with the stage's own key (the default) a table is touched only
/// by its shard's workers. A coarser rate key of its own (a tenant for items routed by entity) shares
/// its limiter across the shards its items run in, which is what limiting that key means.
/// </remarks>
/// <typeparam name="T">The item type.</typeparam>
internal sealed class RateLimitGate<T>
{
    private readonly string _stage;
    private readonly Func<T, ItemKey>? _keySelector;
    private readonly KeyedRateLimiters[]? _perKey;
    private readonly PartitionedRateLimiter<T>? _limiter;
    private readonly ShardRouter _router;
    private readonly int _keyedShards;
    private readonly bool _drop;
    private readonly TimeSpan _retryDelay;

    public RateLimitGate(RateLimitOptions<T> options, Func<T, ItemKey>? stageKeySelector, int shards, string stage)
    {
        _stage = stage;
        _keySelector = options.KeySelector ?? stageKeySelector;
        _limiter = options.Limiter;
        _router = new ShardRouter(shards);
        _keyedShards = shards;
        _drop = options.Mode == RateLimitMode.Drop;
        _retryDelay = options.RetryDelay;
        if (options.PerKey is { } factory)
        {
            _perKey = new KeyedRateLimiters[shards + 1];
            for (int i = 0; i < _perKey.Length; i++)
            {
                _perKey[i] = new KeyedRateLimiters(factory, options.MaxKeysPerShard);
            }
        }
    }

    /// <summary>Per-key limiters a shard's table evicted (0 without per-key limiters).</summary>
    public long Evictions(int shard) => _perKey?[shard].Evictions ?? 0;

    /// <summary>Keys with a limiter in a shard's table now.</summary>
    public int Keys(int shard) => _perKey?[shard].Count ?? 0;

    /// <summary>Takes a permit for <paramref name="item"/>, or throws <see cref="RateLimitedException"/>.</summary>
    /// <exception cref="InvalidOperationException">The key selector, the limiter factory or the limiter threw (the message names the option).</exception>
    public void Check(T item)
    {
        RateLimitLease lease;
        string option = "options.RateLimit.KeySelector";
        try
        {
            if (_perKey is not null)
            {
                ItemKey key = _keySelector is null ? default : _keySelector(item);
                option = "options.RateLimit.PerKey";
                lease = _perKey[key.IsNone ? _keyedShards : _router.ShardOf(key.Hash)].Acquire(in key);
            }
            else
            {
                option = "options.RateLimit.Limiter";
                lease = _limiter!.AttemptAcquire(item, 1);
            }
        }
        catch (Exception ex)
        {
            throw new InvalidOperationException($"Stage '{_stage}': {option} threw while taking a rate-limit permit; the run failed.", ex);
        }

        using (lease)
        {
            if (lease.IsAcquired)
            {
                return;
            }

            TimeSpan wait = lease.TryGetMetadata(MetadataName.RetryAfter, out TimeSpan retryAfter) && retryAfter > TimeSpan.Zero ? retryAfter : _retryDelay;
            throw new RateLimitedException(wait, _drop);
        }
    }

    /// <summary>Wraps an asynchronous handler (null stays null).</summary>
    public Func<T, CancellationToken, ValueTask>? Wrap(Func<T, CancellationToken, ValueTask>? handler) =>
        handler is null ? null : (item, ct) =>
        {
            Check(item);
            return handler(item, ct);
        };

    /// <summary>Wraps a synchronous handler (null stays null).</summary>
    public Action<T, CancellationToken>? Wrap(Action<T, CancellationToken>? handler) =>
        handler is null ? null : (item, ct) =>
        {
            Check(item);
            handler(item, ct);
        };

    /// <summary>Wraps a handler that takes the item's context (null stays null).</summary>
    public Func<T, ItemContext, CancellationToken, ValueTask>? Wrap(Func<T, ItemContext, CancellationToken, ValueTask>? handler) =>
        handler is null ? null : (item, context, ct) =>
        {
            Check(item);
            return handler(item, context, ct);
        };

    /// <summary>Disposes the per-key limiters the gate made (not a user's <see cref="RateLimitOptions{T}.Limiter"/>).</summary>
    public void Dispose()
    {
        if (_perKey is not null)
        {
            foreach (KeyedRateLimiters table in _perKey)
            {
                table.Dispose();
            }
        }
    }
}
