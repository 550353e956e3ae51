using System.Collections.Concurrent;
using Engine.Dedupe;
using Engine.Routing;

namespace Engine.Inspection;

/// <summary>
/// What a harness sees of one stage built on an <see cref="IWatchingClock"/>: its handler runs in
/// progress (the handler is wrapped, once, when the stage is created) and every item a callback
/// reports (dead letters, drops, superseded items), each kept in order of the call.
/// </summary>
/// <typeparam name="T">The stage's item type.</typeparam>
internal sealed class RunWatch<T>
{
    private readonly string _stage;
    private readonly TimeProvider _clock;
    private readonly Func<T, ItemKey>? _keySelector;
    private readonly ShardRouter _router;
    private readonly int _keyedShards;
    private readonly ConcurrentDictionary<WatchedRun, byte> _running = new(ReferenceEqualityComparer.Instance);
    private readonly ConcurrentQueue<(T Item, ItemFailure Failure)> _deadLetters = new();
    private readonly ConcurrentQueue<(T Item, DropReason Reason)> _drops = new();
    private readonly ConcurrentQueue<(T Item, SupersedeReason Reason)> _superseded = new();

    public RunWatch(string stage, TimeProvider clock, Func<T, ItemKey>? keySelector, int keyedShards)
    {
        _stage = stage;
        _clock = clock;
        _keySelector = keySelector;
        _keyedShards = keyedShards;
        _router = new ShardRouter(keyedShards);
    }

    /// <summary>Handler runs in progress now.</summary>
    public ICollection<WatchedRun> Running => _running.Keys;

    public IReadOnlyCollection<(T Item, ItemFailure Failure)> DeadLetters => _deadLetters;

    public IReadOnlyCollection<(T Item, DropReason Reason)> Drops => _drops;

    public IReadOnlyCollection<(T Item, SupersedeReason Reason)> Superseded => _superseded;

    // Each wrapper is an async method (or restores the value itself), so the run is the current one
    // of the handler's flow only: the shard loop that called it gets its own flow back on return, and a
    // retry timer the loop starts afterwards belongs to no run.
    public Func<T, CancellationToken, ValueTask>? Wrap(Func<T, CancellationToken, ValueTask>? handler) =>
        handler is null ? null : async (item, ct) =>
        {
            WatchedRun run = Begin(item, 0);
            try
            {
                await handler(item, ct).ConfigureAwait(false);
            }
            finally
            {
                End(run);
            }
        };

    public Func<T, ItemContext, CancellationToken, ValueTask>? Wrap(Func<T, ItemContext, CancellationToken, ValueTask>? handler) =>
        handler is null ? null : async (item, context, ct) =>
        {
            WatchedRun run = Begin(item, context.Attempt);
            try
            {
                await handler(item, context, ct).ConfigureAwait(false);
            }
            finally
            {
                End(run);
            }
        };

    public Action<T, CancellationToken>? Wrap(Action<T, CancellationToken>? handler) =>
        handler is null ? null : (item, ct) =>
        {
            WatchedRun? previous = WatchedRun.Current;
            WatchedRun run = Begin(item, 0);
            try
            {
                handler(item, ct);
            }
            finally
            {
                End(run);
                WatchedRun.Current = previous;
            }
        };

    public Action<T, ItemFailure> Chain(Action<T, ItemFailure>? onDeadLetter) => (item, failure) =>
    {
        _deadLetters.Enqueue((item, failure));
        onDeadLetter?.Invoke(item, failure);
    };

    public Action<T, DropReason> Chain(Action<T, DropReason>? onDropped) => (item, reason) =>
    {
        _drops.Enqueue((item, reason));
        onDropped?.Invoke(item, reason);
    };

    public Action<T, SupersedeReason> Chain(Action<T, SupersedeReason>? onSuperseded) => (item, reason) =>
    {
        _superseded.Enqueue((item, reason));
        onSuperseded?.Invoke(item, reason);
    };

    /// <summary>Registers a run and makes it the flow's current run while the handler is called.</summary>
    private WatchedRun Begin(T item, int attempt)
    {
        ItemKey key = _keySelector is null ? ItemKey.None : _keySelector(item);
        int shard = key.IsNone ? _keyedShards : _router.ShardOf(key.Hash);
        var run = new WatchedRun(_stage, shard, key.IsNone ? null : key.ToString(), attempt, _clock.GetUtcNow());
        _running.TryAdd(run, 0);
        WatchedRun.Current = run;
        return run;
    }

    /// <summary>The run's handler has returned (or its task completed): it is no longer in progress.</summary>
    private void End(WatchedRun run) => _running.TryRemove(run, out _);
}
