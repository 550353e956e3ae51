using System.ComponentModel.DataAnnotations;

namespace Engine.Retry;

/// <summary>
/// How a stage retries an item whose handler failed with a transient error. A retry waits for its
/// backoff without holding a worker; later items of the same key wait behind it, so per-key order holds.
/// </summary>
/// <remarks>
/// The delay before attempt <c>n + 1</c> (after attempt <c>n</c> failed) is
/// <c>d = min(MaxDelay, BaseDelay × BackoffMultiplier^(n − 1))</c>, then jittered to a uniformly
/// drawn value in <c>[d × (1 − JitterRatio), d]</c>, so jitter never pushes a delay above the cap.
/// </remarks>
public sealed class RetryOptions
{
    /// <summary>
    /// How many times the handler may run for one item, the first run included. The default value is 3;
    /// 1 disables retries.
    /// </summary>
    [Range(1, int.MaxValue)]
    public int MaxAttempts { get; set; } = RetryConstants.DefaultMaxAttempts;

    /// <summary>The backoff before the first retry, before jitter. The default value is 100 ms.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00")]
    public TimeSpan BaseDelay { get; set; } = RetryConstants.DefaultBaseDelay;

    /// <summary>The cap on any backoff. The default value is 30 seconds; it may not be below <see cref="BaseDelay"/>.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00")]
    public TimeSpan MaxDelay { get; set; } = RetryConstants.DefaultMaxDelay;

    /// <summary>The factor each further retry's backoff grows by. The default value is 2; at least 1.</summary>
    [Range(1.0, 1000.0)]
    public double BackoffMultiplier { get; set; } = RetryConstants.DefaultBackoffMultiplier;

    /// <summary>
    /// The share of each backoff that is randomised away (0 = exact delays, 1 = anywhere from zero to the
    /// delay). The default value is 0.2.
    /// </summary>
    [Range(0.0, 1.0)]
    public double JitterRatio { get; set; } = RetryConstants.DefaultJitterRatio;

    /// <summary>
    /// Says whether an exception is transient (worth retrying). The default (null) treats every
    /// exception as transient. An exception thrown by the predicate itself makes the failure permanent
    /// and is counted as a callback error.
    /// </summary>
    public Func<Exception, bool>? IsTransient { get; set; }
}
