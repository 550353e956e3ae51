using System.Diagnostics;
using Engine.Internal;
using Engine.Metrics;

namespace Engine.Limiters;

/// <summary>
/// An instrumented async semaphore: at most <c>MaxConcurrency</c> holders at once; others wait in
/// order (first come, first served). Reports slots held, callers waiting and how long they waited.
/// </summary>
/// <remarks>
/// The waiters are a queue of its own rather than <see cref="SemaphoreSlim"/>'s: a semaphore removes
/// a cancelled waiter only when the cancellation callback gets to it, and a release in between hands
/// the slot to the cancelled waiter while the next one keeps waiting. Here a release takes the first
/// waiter still queued, under the same lock that cancellation removes a waiter with.
/// </remarks>
[DebuggerDisplay("Limiter {Name}: Held = {Held}, Waiting = {WaitingCount}")]
public sealed class ConcurrencyLimiter : IDisposable, ILimiterMetricsSource
{
    private readonly TimeProvider _clock;
    private readonly int _max;
    private readonly LatencyHistogram _waits = new(singleWriter: false);
    private readonly HistogramCursor _ownCursor = new();

    /// <summary>Where a snapshot takes the wait-time interval; reused under <see cref="_snapshotGate"/>.</summary>
    private readonly HistogramInterval _taken = new();
    private readonly Lock _snapshotGate = new();
    private readonly EngineMeter _meter;

    /// <summary>Guards the free slots, the queue of waiters and <see cref="_disposed"/>.</summary>
    private readonly Lock _gate = new();

    /// <summary>Free slots; under <see cref="_gate"/> (read without it for the figures).</summary>
    private int _available;

    /// <summary>The queue of waiters, oldest first; under <see cref="_gate"/> (its count readable without).</summary>
    private readonly IntrusiveQueue<Waiter> _waiters = new();
    private bool _disposed;
    private long _acquired;

    private ConcurrencyLimiter(ConcurrencyLimiterOptions options)
    {
        Name = options.Name;
        _max = options.MaxConcurrency;
        _available = _max;
        _clock = options.TimeProvider;
        _meter = EngineMeter.For(options.MeterFactory);
        _meter.Register(this);
    }

    /// <summary>The limiter's name.</summary>
    public string Name { get; }

    /// <summary>Slots held now.</summary>
    public int Held => _max - Volatile.Read(ref _available);

    /// <summary>Callers waiting for a slot now.</summary>
    public int WaitingCount => _waiters.Count;

    /// <summary>Creates a limiter.</summary>
    /// <param name="options">The limit; validated and copied now.</param>
    /// <returns>The limiter.</returns>
    /// <exception cref="ArgumentException">An option is invalid; the message names it.</exception>
    public static ConcurrencyLimiter Create(ConcurrencyLimiterOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        string owner = string.IsNullOrWhiteSpace(options.Name) ? "ConcurrencyLimiter" : $"ConcurrencyLimiter '{options.Name}'";
        OptionsValidation.Validate(options, owner, "options");
        if (options.TimeProvider is null)
        {
            throw OptionsValidation.Invalid(owner, "options.TimeProvider", "may not be null.");
        }

        return new ConcurrencyLimiter(options);
    }

    /// <summary>
    /// Waits for a slot; dispose the lease to give it back. Callers get slots in the order they called;
    /// a caller whose token fires before this returns gets no slot, and a slot it was being handed goes
    /// to the next caller.
    /// </summary>
    /// <param name="cancellationToken">Stops waiting; then no slot is held.</param>
    /// <returns>The lease.</returns>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> fired before a lease was returned.</exception>
    /// <exception cref="ObjectDisposedException">The limiter was disposed before a slot was granted.</exception>
    public async ValueTask<Lease> AcquireAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        long start = _clock.GetTimestamp();
        long end = start;
        Waiter? waiter = null;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_available > 0 && _waiters.First is null)
            {
                _available--;
            }
            else
            {
                waiter = new Waiter(this, cancellationToken);
                _waiters.Add(waiter);
            }
        }

        if (waiter is not null)
        {
            // Registered after queueing: a token that fired meanwhile runs the callback right here.
            using (cancellationToken.UnsafeRegister(static state => ((Waiter)state!).Cancel(), waiter))
            {
                await waiter.Task.ConfigureAwait(false);
            }

            end = _clock.GetTimestamp();
            if (cancellationToken.IsCancellationRequested)
            {
                // The slot came as the token fired: the caller asked to stop, so it goes on to the next.
                Release();
                throw new OperationCanceledException(cancellationToken);
            }
        }

        _waits.Record((long)((end - start) * 1_000_000.0 / _clock.TimestampFrequency), end);
        if (_meter.LimiterWait.Enabled)
        {
            _meter.LimiterWait.Record((end - start) / (double)_clock.TimestampFrequency, new KeyValuePair<string, object?>("limiter", Name));
        }

        Interlocked.Increment(ref _acquired);
        return new Lease(this);
    }

    /// <summary>
    /// The limiter's figures; closes this method's wait-time interval (reporters keep intervals of
    /// their own, so calling this takes nothing away from them).
    /// </summary>
    /// <returns>The snapshot.</returns>
    public LimiterMetricsSnapshot TakeMetricsSnapshot() => TakeMetricsSnapshot(consumer: null);

    /// <summary>As <see cref="TakeMetricsSnapshot()"/> for <paramref name="consumer"/> (null: this limiter's own interval).</summary>
    /// <summary>
    /// Opens <paramref name="consumer"/>'s cursor if it has none, positioned at the waits so far: a
    /// limiter has no start time of its own to measure a first interval from, so the consumer's first
    /// interval (and the rates over it) starts now.
    /// </summary>
    internal void OpenMetricsCursor(MetricsCursors consumer) => consumer.For(this, OpenCursorNow, static _ => { });

    private HistogramCursor OpenCursorNow()
    {
        var cursor = new HistogramCursor();
        lock (_snapshotGate)
        {
            _waits.Take(cursor, _taken);
        }

        return cursor;
    }

    internal LimiterMetricsSnapshot TakeMetricsSnapshot(MetricsCursors? consumer)
    {
        HistogramCursor cursor = consumer?.For(this, OpenCursorNow, static _ => { }) ?? _ownCursor;
        lock (_snapshotGate)
        {
            _waits.Take(cursor, _taken);
            return new LimiterMetricsSnapshot
            {
                Limiter = Name,
                Held = Held,
                Waiting = _waiters.Count,
                MaxConcurrency = _max,
                Acquired = Volatile.Read(ref _acquired),
                WaitTime = LatencySummary.From(_taken),
            };
        }
    }

    /// <summary>
    /// Stops the limiter: callers still waiting get an <see cref="ObjectDisposedException"/>, and so do
    /// later calls to <see cref="AcquireAsync"/>; leases still held may be disposed as usual.
    /// </summary>
    public void Dispose()
    {
        var waiting = new List<Waiter>();
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            while (_waiters.TakeFirst() is { } waiter)
            {
                waiting.Add(waiter);
            }
        }

        _meter.Unregister(this);
        foreach (Waiter waiter in waiting)
        {
            waiter.TrySetException(new ObjectDisposedException(GetType().FullName, $"ConcurrencyLimiter '{Name}' was disposed while this caller waited for a slot."));
        }
    }

    /// <summary>Gives a slot back: to the first waiter still queued, or to the free slots.</summary>
    private void Release()
    {
        Waiter? next;
        lock (_gate)
        {
            next = _waiters.TakeFirst();
            if (next is null)
            {
                _available++;
                Debug.Assert(_available <= _max, "no more slots are given back than were taken");
                return;
            }
        }

        // Completed outside the lock; its continuation runs elsewhere (RunContinuationsAsynchronously).
        next.TrySetResult();
    }

    /// <summary>Takes a waiter whose token fired out of the queue, unless a release took it first.</summary>
    private void Cancel(Waiter waiter)
    {
        lock (_gate)
        {
            if (!_waiters.Remove(waiter))
            {
                return;
            }
        }

        waiter.TrySetCanceled(waiter.Token);
    }

    /// <summary>
    /// A held slot; disposing it gives the slot back. Disposing it again, from any thread or through
    /// any reference, does nothing.
    /// </summary>
    public sealed class Lease : IDisposable
    {
        private ConcurrencyLimiter? _owner;

        internal Lease(ConcurrencyLimiter owner) => _owner = owner;

        /// <summary>Gives the slot back (to the first caller waiting, if any); only the first call does.</summary>
        public void Dispose() => Interlocked.Exchange(ref _owner, null)?.Release();
    }

    /// <summary>A caller waiting for a slot: completed by a release (granted) or by its token (cancelled).</summary>
    private sealed class Waiter(ConcurrencyLimiter owner, CancellationToken token) : TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously), IIntrusiveNode<Waiter>
    {
        /// <summary>The caller's token.</summary>
        public CancellationToken Token { get; } = token;

        /// <inheritdoc/>
        public Waiter? Previous { get; set; }

        /// <inheritdoc/>
        public Waiter? Next { get; set; }

        /// <inheritdoc/>
        public bool Queued { get; set; }

        /// <summary>Called by the token: leaves the queue unless a slot was handed over first.</summary>
        public void Cancel() => owner.Cancel(this);
    }
}
