using System.Diagnostics;
using Engine.Routing;

namespace Engine.Shards;

/// <summary>
/// Which item of a shard may run next: the ready queue (items that may run ahead of the channel:
/// promoted backlog items and due retries) and, when keys are tracked, the busy keys with the items
/// parked behind each (client-go's dirty/processing rule). A key is busy while one of its items is in
/// a handler, ready, or waiting for a retry; its later items wait in its backlog, in order, and are
/// promoted one by one as it frees. Not thread-safe: its shard calls it under the shard's lock, and it
/// asserts so; <see cref="ReadyCount"/> and <see cref="Parked"/> may be read without the lock.
/// </summary>
[DebuggerDisplay("Ready = {_readyCount}, Parked = {_parked}, BusyKeys = {BusyKeys}")]
internal sealed class KeyScheduler<T>
{
    /// <summary>The shard's lock, which every mutating call must hold (checked in debug builds).</summary>
    private readonly Lock _owner;

    /// <summary>Busy keys and their backlogs; null when keys are not tracked.</summary>
    private readonly Dictionary<ItemKey, KeyState<T>>? _keys;

    /// <summary>Key states no key uses, reused so a busy key costs no allocation.</summary>
    private readonly Stack<KeyState<T>> _free = new();

    /// <summary>Items that may run now, ahead of the channel.</summary>
    private readonly Queue<Envelope<T>> _ready = new();

    /// <summary>Mirror of <see cref="_ready"/>'s count, written under the lock, read without it.</summary>
    private int _readyCount;

    /// <summary>Items parked in backlogs, written under the lock, read without it.</summary>
    private int _parked;

    /// <summary>Mirror of the busy keys' count, written under the lock, read without it.</summary>
    private int _busyKeys;

    /// <param name="owner">The lock the shard holds around every mutating call.</param>
    /// <param name="trackKeys">Whether keys are claimed and items parked behind busy ones.</param>
    public KeyScheduler(Lock owner, bool trackKeys)
    {
        _owner = owner;
        _keys = trackKeys ? [] : null;
    }

    /// <summary>
    /// Called under the lock when a parked item flagged <see cref="EnvelopeFlags.Delayed"/> gets its
    /// key's turn (set by shards that take delayed writes); returns whether an item became ready.
    /// </summary>
    public Func<KeyState<T>, Envelope<T>, bool>? DelayedTurn { get; set; }

    /// <summary>Whether keys are tracked.</summary>
    public bool TracksKeys => _keys is not null;

    /// <summary>Items in the ready queue; readable without the lock.</summary>
    public int ReadyCount => Volatile.Read(ref _readyCount);

    /// <summary>Items parked behind busy keys; readable without the lock.</summary>
    public int Parked => Volatile.Read(ref _parked);

    /// <summary>Keys busy now; readable without the lock (a reader that does not hold it may see a value just overtaken).</summary>
    public int BusyKeys => Volatile.Read(ref _busyKeys);

    /// <summary>Queues an item that may run now (a promoted one, or a due retry whose key stays busy).</summary>
    public void EnqueueReady(in Envelope<T> envelope)
    {
        AssertOwned();
        _ready.Enqueue(envelope);
        _readyCount++;
    }

    /// <summary>Takes the oldest ready item.</summary>
    public bool TryDequeueReady(out Envelope<T> envelope)
    {
        AssertOwned();
        if (!_ready.TryDequeue(out envelope))
        {
            return false;
        }

        _readyCount--;
        return true;
    }

    /// <summary>
    /// Claims an item's key for a run. When the key is busy the item is parked at the end of its
    /// backlog instead and <paramref name="busy"/> is the key's state.
    /// </summary>
    /// <returns>True when the item may run now.</returns>
    public bool TryClaim(in Envelope<T> envelope, out KeyState<T>? busy)
    {
        AssertOwned();
        Debug.Assert(_keys is not null, "keys are claimed only when tracked");
        if (_keys.TryGetValue(envelope.Key, out busy))
        {
            busy.Backlog.Enqueue(envelope);
            _parked++;
            return false;
        }

        Add(envelope.Key);
        return true;
    }

    /// <summary>
    /// Claims a key known to be free: an item that ran without a claim (its shard claims on demand)
    /// failed and keeps its key busy for the retry.
    /// </summary>
    public KeyState<T> ClaimFree(in ItemKey key)
    {
        AssertOwned();
        Debug.Assert(_keys is not null, "keys are claimed only when tracked");
        Debug.Assert(!_keys.ContainsKey(key), "a key is never claimed twice");
        return Add(key);
    }

    /// <summary>Whether <paramref name="key"/> is busy.</summary>
    public bool IsBusy(in ItemKey key)
    {
        AssertOwned();
        return _keys is not null && _keys.ContainsKey(key);
    }

    /// <summary>The state of a busy key, or null.</summary>
    public KeyState<T>? Find(in ItemKey key)
    {
        AssertOwned();
        return _keys is not null && _keys.TryGetValue(key, out KeyState<T>? state) ? state : null;
    }

    /// <summary>
    /// Frees a key after its item settled: the key's next parked item is promoted to the ready queue
    /// (the key stays busy for it), or the key stops being busy. Does nothing for a key that is not busy.
    /// </summary>
    /// <returns>Whether an item was promoted (a caller outside a worker loop must then make sure one runs).</returns>
    public bool Release(in ItemKey key)
    {
        AssertOwned();
        if (_keys is null || !_keys.TryGetValue(key, out KeyState<T>? state))
        {
            return false;
        }

        state.Retry = null;
        if (state.Backlog.TryDequeue(out Envelope<T> next))
        {
            _parked--;
            if ((next.Flags & EnvelopeFlags.Delayed) != 0)
            {
                // A delayed item's turn: it becomes ready if due, else waits on a timer with the key busy.
                return DelayedTurn!(state, next);
            }

            EnqueueReady(in next);
            return true;
        }

        _keys.Remove(key);
        Volatile.Write(ref _busyKeys, _keys.Count);
        _free.Push(state);
        return false;
    }

    private KeyState<T> Add(in ItemKey key)
    {
        KeyState<T> state = _free.TryPop(out KeyState<T>? free) ? free : new KeyState<T>();
        _keys!.Add(key, state);
        Volatile.Write(ref _busyKeys, _keys.Count);
        return state;
    }

    /// <summary>
    /// Empties the ready queue and every backlog (an abort). Busy keys stay busy: the items holding them
    /// free them as they settle.
    /// </summary>
    /// <returns>How many items were removed.</returns>
    public int RemoveWaiting()
    {
        AssertOwned();
        int removed = _ready.Count;
        _ready.Clear();
        _readyCount = 0;
        if (_keys is not null)
        {
            foreach (KeyState<T> state in _keys.Values)
            {
                removed += state.Backlog.Count;
                state.Backlog.Clear();
            }
        }

        _parked = 0;
        return removed;
    }

    [Conditional("DEBUG")]
    private void AssertOwned()
    {
        Debug.Assert(_owner.IsHeldByCurrentThread, "the key scheduler is used under its shard's lock");
        Debug.Assert(_readyCount == _ready.Count && _parked >= 0 && _busyKeys == (_keys?.Count ?? 0), "the mirrored counts match");
    }
}
