namespace Engine.Retry;

/// <summary>
/// A validated, immutable copy of <see cref="RetryOptions"/> taken when the stage is built, so later
/// changes to the options object cannot change a running stage.
/// </summary>
internal sealed class RetryPolicy
{
    private readonly double _baseTicks;
    private readonly double _maxTicks;
    private readonly double _multiplier;
    private readonly double _jitter;
    private readonly Func<Exception, bool>? _isTransient;

    public RetryPolicy(RetryOptions options)
    {
        MaxAttempts = options.MaxAttempts;
        _baseTicks = options.BaseDelay.Ticks;
        _maxTicks = options.MaxDelay.Ticks;
        _multiplier = options.BackoffMultiplier;
        _jitter = options.JitterRatio;
        _isTransient = options.IsTransient;
    }

    /// <summary>No retries: every failure is final.</summary>
    public static RetryPolicy None { get; } = new(new RetryOptions { MaxAttempts = 1 });

    /// <summary>Handler runs allowed per item, the first included.</summary>
    public int MaxAttempts { get; }

    /// <summary>Whether <paramref name="exception"/> is worth a retry; throws whatever the user predicate throws.</summary>
    public bool IsTransient(Exception exception) => _isTransient is null || _isTransient(exception);

    /// <summary>The un-jittered backoff after attempt <paramref name="failedAttempt"/> (1-based) failed.</summary>
    public TimeSpan NominalDelay(int failedAttempt)
    {
        double ticks = _baseTicks * Math.Pow(_multiplier, failedAttempt - 1);
        return TimeSpan.FromTicks((long)Math.Min(ticks, _maxTicks));
    }

    /// <summary>The backoff to wait: the nominal delay less a random share of at most the jitter ratio.</summary>
    /// <param name="failedAttempt">The attempt that failed, 1-based.</param>
    /// <param name="unitRandom">A uniform value in [0, 1).</param>
    public TimeSpan Delay(int failedAttempt, double unitRandom)
    {
        long nominal = NominalDelay(failedAttempt).Ticks;
        return TimeSpan.FromTicks(nominal - (long)(nominal * _jitter * unitRandom));
    }
}
