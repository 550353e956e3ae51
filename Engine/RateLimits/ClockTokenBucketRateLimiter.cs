using System.Diagnostics;
using System.Threading.RateLimiting;

namespace Engine.RateLimits;

/// <summary>
/// A token bucket that keeps time on a <see cref="TimeProvider"/> (the stage's clock, or a fake one in
/// tests): <c>System.Threading.RateLimiting</c>'s own limiters read real time even when told not to
/// replenish themselves, so they cannot follow a virtual clock. The bucket holds at most
/// <see cref="TokenBucketRateLimiterOptions.TokenLimit"/> tokens, starts full and gains
/// <see cref="TokenBucketRateLimiterOptions.TokensPerPeriod"/> at the end of each whole
/// <see cref="TokenBucketRateLimiterOptions.ReplenishmentPeriod"/>. A failed lease carries
/// <see cref="MetadataName.RetryAfter"/>: the time until enough tokens are there. It never queues:
/// <see cref="RateLimiter.AcquireAsync"/> answers at once, as <see cref="RateLimiter.AttemptAcquire"/> does.
/// </summary>
[DebuggerDisplay("Tokens = {_tokens}")]
public sealed class ClockTokenBucketRateLimiter : ReplenishingRateLimiter
{
    private static readonly RateLimitLease Acquired = new Lease(true, null);

    private readonly Lock _lock = new();
    private readonly TimeProvider _clock;
    private readonly int _limit;
    private readonly int _perPeriod;
    private readonly TimeSpan _period;
    private readonly long _periodTicks;
    private long _tokens;

    /// <summary>The clock reading the last whole period ended at.</summary>
    private long _replenished;
    private long _succeeded;
    private long _failed;

    /// <summary>Creates a full bucket.</summary>
    /// <param name="options">Its limit, tokens per period and period (the queue options are ignored: it never queues; <c>AutoReplenishment</c> too: the clock replenishes it).</param>
    /// <param name="clock">The clock it keeps time on.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The limit or tokens per period is below 1, or the period is not positive.</exception>
    public ClockTokenBucketRateLimiter(TokenBucketRateLimiterOptions options, TimeProvider clock)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(clock);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.TokenLimit, 1, "options.TokenLimit");
        ArgumentOutOfRangeException.ThrowIfLessThan(options.TokensPerPeriod, 1, "options.TokensPerPeriod");
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(options.ReplenishmentPeriod, TimeSpan.Zero, "options.ReplenishmentPeriod");
        _clock = clock;
        _limit = options.TokenLimit;
        _perPeriod = options.TokensPerPeriod;
        _period = options.ReplenishmentPeriod;
        _periodTicks = Math.Max(1, Internal.ClockTicks.From(clock, _period));
        _tokens = _limit;
        _replenished = clock.GetTimestamp();
    }

    /// <inheritdoc />
    public override TimeSpan? IdleDuration
    {
        get
        {
            lock (_lock)
            {
                Replenish();
                return _tokens >= _limit ? _clock.GetElapsedTime(_replenished) : null;
            }
        }
    }

    /// <inheritdoc />
    public override bool IsAutoReplenishing => true;

    /// <inheritdoc />
    public override TimeSpan ReplenishmentPeriod => _period;

    /// <inheritdoc />
    public override bool TryReplenish() => false;

    /// <inheritdoc />
    public override RateLimiterStatistics? GetStatistics()
    {
        lock (_lock)
        {
            Replenish();
            return new RateLimiterStatistics
            {
                CurrentAvailablePermits = _tokens,
                TotalSuccessfulLeases = _succeeded,
                TotalFailedLeases = _failed,
            };
        }
    }

    /// <inheritdoc />
    protected override RateLimitLease AttemptAcquireCore(int permitCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(permitCount);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(permitCount, _limit);
        lock (_lock)
        {
            Replenish();
            if (_tokens >= permitCount)
            {
                _tokens -= permitCount;
                _succeeded++;
                return Acquired;
            }

            // Whole periods until enough tokens, counted from the end of the current one.
            _failed++;
            long periods = ((permitCount - _tokens) + _perPeriod - 1) / _perPeriod;
            long due = _replenished + (periods * _periodTicks);
            return new Lease(false, _clock.GetElapsedTime(_clock.GetTimestamp(), due));
        }
    }

    /// <inheritdoc />
    protected override ValueTask<RateLimitLease> AcquireAsyncCore(int permitCount, CancellationToken cancellationToken) =>
        cancellationToken.IsCancellationRequested ? ValueTask.FromCanceled<RateLimitLease>(cancellationToken) : new(AttemptAcquireCore(permitCount));

    /// <summary>Adds the tokens of the whole periods elapsed. Under the lock.</summary>
    private void Replenish()
    {
        long periods = (_clock.GetTimestamp() - _replenished) / _periodTicks;
        if (periods > 0)
        {
            _replenished += periods * _periodTicks;
            _tokens = Math.Min(_limit, _tokens + (periods * _perPeriod));
        }
    }

    private sealed class Lease(bool acquired, TimeSpan? retryAfter) : RateLimitLease
    {
        public override bool IsAcquired { get; } = acquired;

        public override IEnumerable<string> MetadataNames => retryAfter is null ? [] : [MetadataName.RetryAfter.Name];

        public override bool TryGetMetadata(string metadataName, out object? metadata)
        {
            if (retryAfter is { } wait && metadataName == MetadataName.RetryAfter.Name)
            {
                metadata = wait;
                return true;
            }

            metadata = null;
            return false;
        }
    }
}
