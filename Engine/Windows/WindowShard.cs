using System.Diagnostics;
using Engine.Internal;
using Engine.Metrics;
using Engine.Routing;

namespace Engine.Windows;

/// <summary>
/// The windows of the keys one stage shard owns: open windows by key, their deadlines, the closed ones
/// waiting to be forwarded, and the loop that closes windows on time and forwards them in the order
/// they closed. Items are folded by the stage's workers of this shard (<see cref="FoldAsync"/>); one
/// lock per shard guards it all, so no two shards ever share a lock or a counter.
/// </summary>
/// <remarks>
/// Memory is bounded by the shard's share of <c>MaxOpenWindows</c> (the cap): at most the cap open, and
/// a fold waits while as many closed windows wait for the loop (a slow downstream slows the fold
/// rather than piling windows up), so with the batch the loop is forwarding (what it took, plus what
/// closed on the clock at once) at most about three caps are held. Deadline entries of windows closed
/// early are dropped when they outnumber the open windows (see <see cref="Compact"/>), so they are
/// bounded too.
/// </remarks>
[DebuggerDisplay("Open = {_open.Count}, Due = {_due.Count}, Cap = {_cap}")]
internal sealed partial class WindowShard<T, TAcc>
{
    private readonly Lock _gate = new();
    private readonly WindowSpec _spec;
    private readonly Func<TAcc> _seed;
    private readonly Func<TAcc, T, TAcc> _fold;
    private readonly int _cap;
    private readonly WindowFullMode _fullMode;
    private readonly TimeProvider _time;
    private readonly Func<KeyedWindow<TAcc>, long, CancellationToken, ValueTask> _forward;
    private readonly WindowInstruments _instruments;

    /// <summary>Open windows by key; under <see cref="_gate"/>.</summary>
    private readonly Dictionary<ItemKey, WindowState<TAcc>> _open = [];

    /// <summary>Open windows by the deadline they had when they opened (a session's may have moved later since; the loop checks). Under <see cref="_gate"/>.</summary>
    private readonly PriorityQueue<WindowState<TAcc>, long> _deadlines = new();

    /// <summary>Closed windows the loop has not taken yet, in the order they closed; under <see cref="_gate"/>.</summary>
    private readonly Queue<WindowState<TAcc>> _due = new();

    /// <summary>The open windows, oldest first (the one <see cref="WindowFullMode.FlushOldest"/> flushes); under <see cref="_gate"/>.</summary>
    private readonly IntrusiveQueue<WindowState<TAcc>> _byAge = new();

    /// <summary>Completed to wake the loop (set by the loop before it waits); under <see cref="_gate"/>.</summary>
    private TaskCompletionSource? _wake;

    /// <summary>The deadline the loop sleeps until (<see cref="long.MinValue"/> while it is awake); under <see cref="_gate"/>.</summary>
    private long _wakeAt = long.MinValue;

    /// <summary>Completed when a window leaves the open set or the loop takes the closed ones: folds waiting for room retry. Under <see cref="_gate"/>.</summary>
    private TaskCompletionSource? _room;

    /// <summary>
    /// What the loop awaits while it sleeps (null while it works), so a watching clock's harness can
    /// tell a loop that waits for a deadline from one about to close or forward (see <see cref="Inspect"/>).
    /// </summary>
    private Task? _parkedOn;

    /// <summary>Set once the stage has completed: the loop flushes every open window and ends.</summary>
    private bool _completing;

    // The counts below are written under _gate (see WindowCounts for their meaning).
    private long _folded;
    private long _openItems;
    private long _peakOpen;
    private long _closing;
    private long _closingItems;
    private long _emitted;
    private long _itemsEmitted;
    private long _earlyFlushes;
    private long _completionFlushes;
    private long _abandonedWindows;
    private long _abandonedItems;

    public WindowShard(
        WindowSpec spec,
        Func<TAcc> seed,
        Func<TAcc, T, TAcc> fold,
        int cap,
        WindowFullMode fullMode,
        TimeProvider time,
        Func<KeyedWindow<TAcc>, long, CancellationToken, ValueTask> forward,
        WindowInstruments instruments)
    {
        Debug.Assert(cap >= 1, "every shard may hold a window");
        _spec = spec;
        _seed = seed;
        _fold = fold;
        _cap = cap;
        _fullMode = fullMode;
        _time = time;
        _forward = forward;
        _instruments = instruments;
    }

    /// <summary>Items per forwarded window, recorded by the loop only (the histogram's microseconds are items).</summary>
    public LatencyHistogram ItemsPerWindow { get; } = new(singleWriter: true);

    /// <summary>Close to forwarded, in microseconds, recorded by the loop only.</summary>
    public LatencyHistogram Lateness { get; } = new(singleWriter: true);

    /// <summary>
    /// Folds <paramref name="item"/> into its key's window, opening one if the key has none (or its
    /// window's time ran out). Waits while the shard has no room (see <see cref="WindowFullMode"/>).
    /// A fold that throws leaves the window as it was, and the exception fails this handler run.
    /// </summary>
    public ValueTask FoldAsync(T item, ItemKey key, long entry, CancellationToken cancellationToken)
    {
        Task? room = TryFold(item, key, entry);
        return room is null ? default : FoldWhenRoomAsync(room, item, key, entry, cancellationToken);
    }

    /// <summary>The loop: closes windows when their time comes and forwards closed ones, until the shard completes or the abort token fires.</summary>
    public async Task RunAsync(CancellationToken abort)
    {
        var ready = new List<WindowState<TAcc>>();
        while (true)
        {
            Task wake;
            long deadline;
            lock (_gate)
            {
                long now = Now();
                CloseElapsed(now);
                if (_completing)
                {
                    while (_byAge.First is { } oldest)
                    {
                        Close(oldest, WindowCloseReason.Completion, now);
                        _completionFlushes++;
                    }
                }

                while (_due.TryDequeue(out WindowState<TAcc>? closed))
                {
                    ready.Add(closed);
                }

                if (ready.Count > 0)
                {
                    ReleaseRoom();
                    wake = Task.CompletedTask;
                    deadline = long.MinValue;
                }
                else if (_completing)
                {
                    return;
                }
                else
                {
                    _wake = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    _wakeAt = _deadlines.TryPeek(out _, out long next) ? next : long.MaxValue;
                    wake = _wake.Task;
                    deadline = _wakeAt;
                }
            }

            if (ready.Count > 0)
            {
                foreach (WindowState<TAcc> window in ready)
                {
                    await ForwardAsync(window, abort).ConfigureAwait(false);
                }

                ready.Clear();
                continue;
            }

            await WaitAsync(wake, deadline, abort).ConfigureAwait(false);
        }
    }

    /// <summary>Called once the stage has completed (no fold will come): the loop flushes every open window, forwards them and ends.</summary>
    public void BeginCompleting()
    {
        lock (_gate)
        {
            _completing = true;
            Wake();
        }
    }

    /// <summary>After an abort (the stage and the loop have stopped): counts every window still held as abandoned and lets them go.</summary>
    public void AbandonRest()
    {
        lock (_gate)
        {
            _abandonedWindows += _closing + _open.Count;
            _abandonedItems += _closingItems + _openItems;
            _closing = 0;
            _closingItems = 0;
            _openItems = 0;
            _open.Clear();
            _due.Clear();
            _deadlines.Clear();
            // Unlinks every open window from the queue (each keeps no links to the others).
            while (_byAge.TakeFirst() is not null)
            {
            }
            ReleaseRoom();
        }
    }

    /// <summary>Closes a consumer's interval of the shard's window histograms: its snapshot, with <paramref name="counts"/> as read just before.</summary>
    public WindowMetricsSnapshot TakeSnapshot(int shard, WindowCounts counts, HistogramCursor items, HistogramCursor lateness, HistogramInterval scratch)
    {
        ItemsPerWindow.Take(items, scratch);
        LatencySummary sizes = LatencySummary.From(scratch);
        Lateness.Take(lateness, scratch);
        return new WindowMetricsSnapshot
        {
            Shard = shard,
            Counts = counts,

            // The histogram holds items where it would hold microseconds; a summary reads them as thousandths.
            ItemsPerWindow = sizes.Thousandfold(),
            Lateness = LatencySummary.From(scratch),
        };
    }

    /// <summary>The shard's window counts now.</summary>
    public WindowCounts GetCounts()
    {
        lock (_gate)
        {
            return new WindowCounts
            {
                Folded = _folded,
                Open = _open.Count,
                OpenItems = _openItems,
                PeakOpen = _peakOpen,
                Closing = _closing,
                ClosingItems = _closingItems,
                Emitted = _emitted,
                ItemsEmitted = _itemsEmitted,
                EarlyFlushes = _earlyFlushes,
                CompletionFlushes = _completionFlushes,
                AbandonedWindows = _abandonedWindows,
                AbandonedItems = _abandonedItems,
            };
        }
    }

    private async ValueTask FoldWhenRoomAsync(Task room, T item, ItemKey key, long entry, CancellationToken cancellationToken)
    {
        for (Task? wait = room; wait is not null; wait = TryFold(item, key, entry))
        {
            await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Folds the item, or returns a task that completes when there may be room for it.</summary>
    private Task? TryFold(T item, ItemKey key, long entry)
    {
        lock (_gate)
        {
            AssertInvariants();
            if (_due.Count >= _cap)
            {
                // As many closed windows wait for the loop as may be open: downstream is slow.
                return Room();
            }

            long now = Now();
            _open.TryGetValue(key, out WindowState<TAcc>? window);
            bool expired = window is not null && _spec.DeadlineOf(window.Start, window.LastAt) <= now;
            bool opens = window is null || expired;
            if (opens && !expired && _open.Count >= _cap && _fullMode == WindowFullMode.Backpressure)
            {
                return Room();
            }

            // The fold runs first: if it throws, nothing has changed and the window keeps what it had.
            TAcc value = _fold(opens ? _seed() : window!.Value, item);
            if (expired)
            {
                // The loop has not reached this window's deadline yet; the item belongs to a new one.
                Close(window!, WindowCloseReason.Elapsed, _spec.DeadlineOf(window!.Start, window.LastAt));
            }

            if (opens)
            {
                if (_open.Count >= _cap)
                {
                    Debug.Assert(_fullMode == WindowFullMode.FlushOldest && _byAge.First is not null, "only FlushOldest opens past the cap");
                    Close(_byAge.First!, WindowCloseReason.FlushedEarly, now);
                    _earlyFlushes++;
                }

                window = Open(key, now, entry);
            }

            window!.Value = value;
            window.Count++;
            window.LastAt = now;
            window.OldestEntry = Math.Min(window.OldestEntry, entry);
            _folded++;
            _openItems++;
            if (_spec.MaxItems > 0 && window.Count >= _spec.MaxItems)
            {
                Close(window, WindowCloseReason.Full, now);
            }

            return null;
        }
    }

    private WindowState<TAcc> Open(ItemKey key, long now, long entry)
    {
        var window = new WindowState<TAcc>(key, default!, _spec.StartOf(now), entry) { LastAt = now };
        _open.Add(key, window);
        _byAge.Add(window);
        _peakOpen = Math.Max(_peakOpen, _open.Count);
        long deadline = _spec.DeadlineOf(window.Start, now);
        _deadlines.Enqueue(window, deadline);
        if (deadline < _wakeAt)
        {
            Wake();
        }

        return window;
    }

    /// <summary>Moves an open window to the closed ones the loop forwards.</summary>
    private void Close(WindowState<TAcc> window, WindowCloseReason reason, long end)
    {
        Debug.Assert(!window.Closed && _open.ContainsKey(window.Key), "only an open window closes");
        _open.Remove(window.Key);
        _byAge.Remove(window);
        window.Closed = true;
        window.Reason = reason;
        window.End = end;
        _openItems -= window.Count;
        _closing++;
        _closingItems += window.Count;
        _due.Enqueue(window);
        Wake();
        ReleaseRoom();
        Compact();
    }

    /// <summary>Closes the windows whose time has come, in deadline order; a session that moved on is queued again at its new deadline.</summary>
    private void CloseElapsed(long now)
    {
        while (_deadlines.TryPeek(out WindowState<TAcc>? window, out long deadline) && deadline <= now)
        {
            _deadlines.Dequeue();
            if (window.Closed)
            {
                continue;
            }

            long actual = _spec.DeadlineOf(window.Start, window.LastAt);
            if (actual > now)
            {
                _deadlines.Enqueue(window, actual);
                continue;
            }

            Close(window, WindowCloseReason.Elapsed, actual);
        }
    }

    /// <summary>
    /// Drops the deadline entries of windows closed before their deadline (full, flushed early,
    /// expired at a fold) once they outnumber the open windows, so the queue stays within twice the
    /// open windows however many keys pass through.
    /// </summary>
    private void Compact()
    {
        if (_deadlines.Count <= (2 * _open.Count) + 64)
        {
            return;
        }

        (WindowState<TAcc> Element, long Priority)[] live = [.. _deadlines.UnorderedItems.Where(e => !e.Element.Closed)];
        _deadlines.Clear();
        _deadlines.EnqueueRange(live);
    }

    private async ValueTask ForwardAsync(WindowState<TAcc> window, CancellationToken abort)
    {
        var result = new KeyedWindow<TAcc>(window.Key, window.Value, window.Count, ToTime(window.Start), ToTime(window.End), window.Reason);
        await _forward(result, window.OldestEntry, abort).ConfigureAwait(false);
        long late = Math.Max(0, Now() - window.End) / TimeSpan.TicksPerMicrosecond;
        ItemsPerWindow.Record(window.Count);
        Lateness.Record(late);
        _instruments.Record(window.Count, late);
        lock (_gate)
        {
            _closing--;
            _closingItems -= window.Count;
            _emitted++;
            _itemsEmitted += window.Count;
        }
    }

    /// <summary>Sleeps until <paramref name="deadline"/> (UTC ticks on the pipeline's clock; <see cref="long.MaxValue"/>: no deadline) or a wake, whichever comes first.</summary>
    /// <remarks>
    /// A timer's delay is relative to the clock at the timer's creation, so the delay is read from the
    /// clock right before, and the timer made again when the clock moved in between: otherwise a clock
    /// that jumps then (a test's fake clock) would leave the timer late by the jump, and a window due
    /// at the jump would not close until the next one (seen: <c>KeyedWindowTests</c> timing out).
    /// </remarks>
    private async Task WaitAsync(Task wake, long deadline, CancellationToken abort)
    {
        if (deadline == long.MaxValue)
        {
            Task woken = wake.WaitAsync(abort);
            Volatile.Write(ref _parkedOn, woken);
            await woken.ConfigureAwait(false);
            Volatile.Write(ref _parkedOn, null);
            return;
        }

        while (!wake.IsCompleted)
        {
            long now = Now();
            if (now >= deadline)
            {
                return;
            }

            using var stopDelay = CancellationTokenSource.CreateLinkedTokenSource(abort);
            Task sleep = Task.Delay(TimeSpan.FromTicks(deadline - now), _time, stopDelay.Token);
            if (Now() - now >= TimeSpan.TicksPerMillisecond)
            {
                await stopDelay.CancelAsync().ConfigureAwait(false);
                continue;
            }

            Task first = Task.WhenAny(wake, sleep);
            Volatile.Write(ref _parkedOn, first);
            await first.ConfigureAwait(false);
            Volatile.Write(ref _parkedOn, null);
            await stopDelay.CancelAsync().ConfigureAwait(false);
            break;
        }

        abort.ThrowIfCancellationRequested();
    }

    private Task Room() => (_room ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

    private void ReleaseRoom()
    {
        _room?.TrySetResult();
        _room = null;
    }

    /// <summary>Wakes the loop if it sleeps; it then recomputes its deadline.</summary>
    private void Wake()
    {
        _wake?.TrySetResult();
        _wake = null;
        _wakeAt = long.MinValue;
    }

    private long Now() => _time.GetUtcNow().UtcTicks;

    private static DateTimeOffset ToTime(long utcTicks) => new(utcTicks, TimeSpan.Zero);

    [Conditional("DEBUG")]
    private void AssertInvariants()
    {
        Debug.Assert(_gate.IsHeldByCurrentThread, "the shard's state is read under its lock");
        Debug.Assert(_open.Count <= _cap, "never more open windows than the shard's share");
        Debug.Assert(_openItems >= 0 && _closing >= 0 && _closingItems >= 0, "counts never go below zero");
        Debug.Assert(_folded == _itemsEmitted + _abandonedItems + _openItems + _closingItems, "every folded item is in exactly one window");
    }
}
