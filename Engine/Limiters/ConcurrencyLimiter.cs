using System.Diagnostics;
using Engine.Internal;
using Engine.Metrics;

namespace Engine.Limiters;

/// <summary>
/// An instrumented async semaphore: at most <c>MaxConcurrency</c> holders at once; others wait in
/// order. Reports slots held, callers waiting and how long they waited.
/// </summary>
[DebuggerDisplay("Limiter {Name}: Held = {Held}, Waiting = {_waiting}")]
public sealed class ConcurrencyLimiter : IDisposable, ILimiterMetricsSource
{
    private readonly SemaphoreSlim _slots;
    private readonly TimeProvider _clock;
    private readonly int _max;
    private readonly LatencyHistogram _waits = new(singleWriter: false);
    private readonly HistogramCursor _ownCursor = new();
    private readonly long[] _scratch = new long[LatencyHistogram.BucketCount];
    private readonly Lock _snapshotGate = new();
    private readonly EngineMeter _meter;
    private int _waiting;
    private long _acquired;

    private ConcurrencyLimiter(ConcurrencyLimiterOptions options)
    {
        Name = options.Name;
        _max = options.MaxConcurrency;
        _clock = options.TimeProvider;
        _slots = new SemaphoreSlim(_max, _max);
        _meter = EngineMeter.For(options.MeterFactory);
        _meter.Register(this);
    }

    /// <summary>The limiter's name.</summary>
    public string Name { get; }

    /// <summary>Slots held now.</summary>
    public int Held => _max - _slots.CurrentCount;

    /// <summary>Callers waiting for a slot now.</summary>
    public int WaitingCount => Volatile.Read(ref _waiting);

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

    /// <summary>Waits for a slot; dispose the lease to give it back.</summary>
    /// <param name="cancellationToken">Stops waiting; then no slot is held.</param>
    /// <returns>The lease.</returns>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> fired first.</exception>
    public async ValueTask<Lease> AcquireAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        long start = _clock.GetTimestamp();
        long waited = 0;
        if (!_slots.Wait(0, CancellationToken.None))
        {
            Interlocked.Increment(ref _waiting);
            try
            {
                await _slots.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                Interlocked.Decrement(ref _waiting);
            }

            waited = _clock.GetTimestamp() - start;
        }

        _waits.Record((long)(waited * 1_000_000.0 / _clock.TimestampFrequency));
        if (_meter.LimiterWait.Enabled)
        {
            _meter.LimiterWait.Record(waited / (double)_clock.TimestampFrequency, new KeyValuePair<string, object?>("limiter", Name));
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
            cursor.Take(_waits, _scratch, new long[LatencyHistogram.BucketCount]);
        }

        return cursor;
    }

    internal LimiterMetricsSnapshot TakeMetricsSnapshot(MetricsCursors? consumer)
    {
        HistogramCursor cursor = consumer?.For(this, OpenCursorNow, static _ => { }) ?? _ownCursor;
        lock (_snapshotGate)
        {
            var delta = new long[LatencyHistogram.BucketCount];
            long sumDelta = cursor.Take(_waits, _scratch, delta, out long min, out long max);
            return new LimiterMetricsSnapshot
            {
                Limiter = Name,
                Held = Held,
                Waiting = Volatile.Read(ref _waiting),
                MaxConcurrency = _max,
                Acquired = Volatile.Read(ref _acquired),
                WaitTime = LatencySummary.From(delta, sumDelta, min, max),
            };
        }
    }

    /// <summary>Releases the semaphore's resources; leases must have been returned.</summary>
    public void Dispose()
    {
        _meter.Unregister(this);
        _slots.Dispose();
    }

    /// <summary>
    /// A held slot; disposing it gives the slot back. Disposing it again, from any thread or through
    /// any reference, does nothing.
    /// </summary>
    public sealed class Lease : IDisposable
    {
        private ConcurrencyLimiter? _owner;

        internal Lease(ConcurrencyLimiter owner) => _owner = owner;

        /// <summary>Gives the slot back; only the first call does.</summary>
        public void Dispose() => Interlocked.Exchange(ref _owner, null)?._slots.Release();
    }
}
