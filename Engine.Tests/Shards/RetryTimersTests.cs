using System.Collections.Concurrent;
using Engine.Shards;
using Engine.Tests.Support;

namespace Engine.Tests.Shards;

/// <summary>The retry timers alone, on a fake clock: a retry fires once after its backoff, or is cancelled, never both.</summary>
[FixtureLifeCycle(LifeCycle.InstancePerTestCase)]
public class RetryTimersTests
{
    private readonly Lock _lock = new();
    private readonly WatchedTimeProvider _time = new();
    private readonly ConcurrentQueue<int> _due = new();

    private RetryTimers<int> Create() => new(_lock, _time, retry => _due.Enqueue(retry.Envelope.Item));

    private PendingRetry<int> Add(RetryTimers<int> timers, int item)
    {
        lock (_lock)
        {
            return timers.Add(new Envelope<int>(item, item, 0, 0));
        }
    }

    [Test]
    public void A_retry_is_due_once_its_backoff_has_passed_and_not_before()
    {
        RetryTimers<int> timers = Create();
        PendingRetry<int> retry = Add(timers, 1);
        timers.Start(retry, TimeSpan.FromSeconds(2));

        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.That(_due, Is.Empty);
        _time.Advance(TimeSpan.FromSeconds(1));
        _time.Advance(TimeSpan.FromSeconds(10));
        Assert.Multiple(() =>
        {
            Assert.That(_due, Is.EqualTo(new[] { 1 }), "due exactly once");
            Assert.That(retry.State, Is.EqualTo(PendingRetry<int>.Fired));
            Assert.That(timers.Count, Is.EqualTo(1), "the owner removes a fired retry under its lock");
        });
    }

    [Test]
    public void A_cancelled_retry_is_never_due_and_a_fired_one_cannot_be_cancelled()
    {
        RetryTimers<int> timers = Create();
        PendingRetry<int> cancelled = Add(timers, 1);
        PendingRetry<int> fired = Add(timers, 2);
        timers.Start(cancelled, TimeSpan.FromSeconds(1));
        timers.Start(fired, TimeSpan.FromMilliseconds(1));
        _time.Advance(TimeSpan.FromMilliseconds(1));

        lock (_lock)
        {
            Assert.Multiple(() =>
            {
                Assert.That(timers.TryCancel(cancelled), Is.True);
                Assert.That(timers.TryCancel(fired), Is.False, "its timer won");
            });
        }

        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.That(_due, Is.EqualTo(new[] { 2 }));
    }

    [Test]
    public void An_abort_cancels_every_retry_whose_timer_has_not_fired_and_counts_them()
    {
        RetryTimers<int> timers = Create();
        PendingRetry<int>[] retries = [Add(timers, 1), Add(timers, 2), Add(timers, 3)];
        timers.Start(retries[0], TimeSpan.FromSeconds(1));
        timers.Start(retries[1], TimeSpan.FromSeconds(5));
        timers.Start(retries[2], TimeSpan.FromSeconds(5));
        _time.Advance(TimeSpan.FromSeconds(1));

        int cancelled;
        lock (_lock)
        {
            cancelled = timers.CancelAll();
        }

        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.Multiple(() =>
        {
            Assert.That(cancelled, Is.EqualTo(2), "the fired one is not the abort's");
            Assert.That(_due, Is.EqualTo(new[] { 1 }));
            Assert.That(timers.Count, Is.Zero);
        });
    }

    [Test]
    public void A_timer_that_fires_while_it_is_being_created_is_still_due_once_and_disposed()
    {
        RetryTimers<int> timers = Create();
        PendingRetry<int> retry = Add(timers, 7);

        // A zero backoff on the fake clock fires inside CreateTimer, before the timer is assigned.
        timers.Start(retry, TimeSpan.Zero);
        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.Multiple(() =>
        {
            Assert.That(_due, Is.EqualTo(new[] { 7 }));
            Assert.That(retry.State, Is.EqualTo(PendingRetry<int>.Fired));
        });
    }
}
