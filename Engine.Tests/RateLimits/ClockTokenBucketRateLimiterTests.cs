using System.Threading.RateLimiting;
using Engine.RateLimits;
using Microsoft.Extensions.Time.Testing;

namespace Engine.Tests.RateLimits;

/// <summary>The token bucket that keeps a <see cref="TimeProvider"/>'s time (the runtime's own read the stopwatch).</summary>
public class ClockTokenBucketRateLimiterTests
{
    private static TokenBucketRateLimiterOptions Options(int limit, int perPeriod, TimeSpan period) =>
        new() { TokenLimit = limit, TokensPerPeriod = perPeriod, ReplenishmentPeriod = period };

    [Test]
    public void It_starts_full_refills_per_whole_period_on_its_clock_and_says_when_to_retry()
    {
        var clock = new FakeTimeProvider();
        using var bucket = new ClockTokenBucketRateLimiter(Options(limit: 3, perPeriod: 2, TimeSpan.FromSeconds(1)), clock);

        Assert.That(Enumerable.Range(0, 3).All(_ => bucket.AttemptAcquire().IsAcquired), Is.True, "a full bucket of three");
        using RateLimitLease refused = bucket.AttemptAcquire();
        Assert.That(refused.IsAcquired, Is.False);
        Assert.That(refused.TryGetMetadata(MetadataName.RetryAfter, out TimeSpan retryAfter), Is.True);
        Assert.That(retryAfter, Is.EqualTo(TimeSpan.FromSeconds(1)));

        clock.Advance(TimeSpan.FromMilliseconds(999));
        Assert.That(bucket.AttemptAcquire().IsAcquired, Is.False, "no token before the period ends");
        clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.That((bucket.AttemptAcquire().IsAcquired, bucket.AttemptAcquire().IsAcquired, bucket.AttemptAcquire().IsAcquired), Is.EqualTo((true, true, false)), "two per period");

        clock.Advance(TimeSpan.FromSeconds(10));
        Assert.That(bucket.GetStatistics()!.CurrentAvailablePermits, Is.EqualTo(3), "never above the limit");
        using RateLimitLease tooMany = bucket.AttemptAcquire(3);
        Assert.That(tooMany.IsAcquired, Is.True);
        using RateLimitLease three = bucket.AttemptAcquire(3);
        Assert.That(three.TryGetMetadata(MetadataName.RetryAfter, out TimeSpan wait) ? wait : TimeSpan.Zero, Is.EqualTo(TimeSpan.FromSeconds(2)), "two periods for three tokens at two a period");
    }

    [Test]
    public void Bad_options_are_refused_naming_them()
    {
        var clock = new FakeTimeProvider();
        Assert.Multiple(() =>
        {
            Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => _ = new ClockTokenBucketRateLimiter(Options(0, 1, TimeSpan.FromSeconds(1)), clock))!.ParamName, Is.EqualTo("options.TokenLimit"));
            Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => _ = new ClockTokenBucketRateLimiter(Options(1, 0, TimeSpan.FromSeconds(1)), clock))!.ParamName, Is.EqualTo("options.TokensPerPeriod"));
            Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => _ = new ClockTokenBucketRateLimiter(Options(1, 1, TimeSpan.Zero), clock))!.ParamName, Is.EqualTo("options.ReplenishmentPeriod"));
            Assert.That(Assert.Throws<ArgumentNullException>(() => _ = new ClockTokenBucketRateLimiter(Options(1, 1, TimeSpan.FromSeconds(1)), null!))!.ParamName, Is.EqualTo("clock"));
        });
    }
}
