using Engine.Demo;
using Engine.Tests.Support;
using Microsoft.Extensions.Time.Testing;

namespace Engine.Tests.Demo;

/// <summary>The demo producer's pacing (<see cref="Pacer"/>), on a fake clock.</summary>
public class PacerTests
{
    [Test]
    public void Each_item_waits_for_the_time_left_until_it_is_due()
    {
        var clock = new FakeTimeProvider();
        var pacer = new Pacer(1000, clock);
        Assert.That(pacer.DelayBefore(5), Is.EqualTo(TimeSpan.FromMilliseconds(5)));
        clock.Advance(TimeSpan.FromMilliseconds(2));
        Assert.That(pacer.DelayBefore(5), Is.EqualTo(TimeSpan.FromMilliseconds(3)));
    }

    [Test]
    public void Behind_schedule_the_wait_is_zero_and_completes_at_once()
    {
        var clock = new FakeTimeProvider();
        var pacer = new Pacer(1000, clock);
        clock.Advance(TimeSpan.FromMilliseconds(10));
        Assert.Multiple(() =>
        {
            Assert.That(pacer.DelayBefore(3), Is.EqualTo(TimeSpan.Zero));
            Assert.That(pacer.WaitAsync(3, CancellationToken.None).IsCompleted, Is.True);
        });
    }

    [Test]
    public void Unpaced_never_waits()
    {
        var clock = new FakeTimeProvider();
        var pacer = new Pacer(0, clock);
        Assert.That(pacer.DelayBefore(1_000_000), Is.EqualTo(TimeSpan.Zero));
    }

    [Test]
    public void A_negative_rate_is_refused_by_name() =>
        Assert.That(() => new Pacer(-1, new FakeTimeProvider()), Throws.TypeOf<ArgumentOutOfRangeException>().With.Property("ParamName").EqualTo("rate"));

    [Test]
    public async Task A_wait_on_time_ends_when_the_clock_reaches_the_due_time()
    {
        var clock = new FakeTimeProvider();
        var pacer = new Pacer(100, clock);
        Task wait = pacer.WaitAsync(1, CancellationToken.None);
        clock.Advance(TimeSpan.FromMilliseconds(9));
        Assert.That(wait.IsCompleted, Is.False, "item 1 is due at 10 ms");
        clock.Advance(TimeSpan.FromMilliseconds(1));
        await wait.Within();
    }

    /// <summary>
    /// Issue 29: the demo compared the clock with the due time, then subtracted a second read from it. A
    /// thread descheduled between the reads for 1 to 2 ms got a span of -1 ms, which Task.Delay takes
    /// for "infinite", and the producer never woke. Here the producer first reads the clock half a
    /// millisecond before each item is due, and every read leaves it 1.5 ms late for the next.
    /// </summary>
    [Test]
    public void A_thread_late_between_clock_reads_still_wakes_for_every_item()
    {
        var clock = new LateClock(TimeSpan.FromMilliseconds(1.5));
        DateTimeOffset origin = clock.GetUtcNow();
        var pacer = new Pacer(1000, clock);
        for (long item = 10; item <= 1000; item += 10)
        {
            TimeSpan firstRead = TimeSpan.FromMilliseconds(item - 0.5);
            clock.Advance(firstRead - (clock.GetUtcNow() - origin));
            Task wait = pacer.WaitAsync(item, CancellationToken.None);
            clock.Advance(TimeSpan.FromMilliseconds(5));
            Assert.That(wait.IsCompleted, Is.True, $"the wait before item {item} ended once its due time had passed");
        }
    }

    /// <summary>A fake clock on which the reading thread is descheduled for a while after every read.</summary>
    private sealed class LateClock(TimeSpan lateness) : FakeTimeProvider
    {
        public override long GetTimestamp()
        {
            long now = base.GetTimestamp();
            Advance(lateness);
            return now;
        }
    }
}
