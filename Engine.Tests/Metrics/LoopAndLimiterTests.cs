using System.Threading.Channels;
using Engine.Limiters;
using Engine.Metrics;
using Engine.Loops;
using Engine.Tests.Support;

namespace Engine.Tests.Metrics;

public class LoopAndLimiterTests
{
    [Test]
    public async Task A_periodic_loop_runs_every_interval_reports_its_runs_and_never_overlaps()
    {
        var time = new WatchedTimeProvider();
        var runs = Channel.CreateUnbounded<int>();
        var gate = new Gate();
        int started = 0;
        int running = 0;
        int overlaps = 0;
        await using PeriodicLoop loop = PeriodicLoop.Start(
            new PeriodicLoopOptions { Name = "resync", Interval = TimeSpan.FromSeconds(10), TimeProvider = time },
            async ct =>
            {
                if (Interlocked.Increment(ref running) > 1)
                {
                    Interlocked.Increment(ref overlaps);
                }

                int n = Interlocked.Increment(ref started);
                if (n == 2)
                {
                    await gate.PassAsync(ct);
                }

                time.Advance(TimeSpan.FromMilliseconds(250));
                Interlocked.Decrement(ref running);
                runs.Writer.TryWrite(n);
                return new LoopRun(Items: 5, Failed: n == 1 ? 1 : 0);
            });

        await time.NextTimerAsync();
        Assert.That(loop.GetMetrics().Runs, Is.Zero, "nothing runs before the first interval");
        time.Advance(TimeSpan.FromSeconds(10));
        Assert.That(await runs.Reader.ReadAsync().AsTask().Within(), Is.EqualTo(1));

        // The loop starts its next wait only after the run has finished and been counted.
        await time.NextTimerAsync();
        LoopMetricsSnapshot first = loop.GetMetrics();
        Assert.Multiple(() =>
        {
            Assert.That(first.Runs, Is.EqualTo(1));
            Assert.That(first.LastRunItems, Is.EqualTo(5));
            Assert.That(first.LastRunFailedItems, Is.EqualTo(1));
            Assert.That(first.LastRunDuration, Is.EqualTo(TimeSpan.FromMilliseconds(250)));
            Assert.That(first.SinceLastSuccess, Is.EqualTo(TimeSpan.Zero));
        });

        // Trigger a run on demand; while it is held, more triggers collapse into one later run.
        loop.TriggerNow();
        await gate.StartedAsync();
        Assert.That(loop.GetMetrics().Running, Is.EqualTo(1));
        loop.TriggerNow();
        loop.TriggerNow();
        gate.Open();
        Assert.That(await runs.Reader.ReadAsync().AsTask().Within(), Is.EqualTo(2));
        Assert.That(await runs.Reader.ReadAsync().AsTask().Within(), Is.EqualTo(3), "the collapsed triggers made one run");
        await time.NextTimerAsync();
        await time.NextTimerAsync();
        time.Advance(TimeSpan.FromSeconds(3));
        LoopMetricsSnapshot later = loop.GetMetrics();
        await loop.StopAsync().Within();
        Assert.Multiple(() =>
        {
            Assert.That(later.Runs, Is.EqualTo(3));
            Assert.That(later.Running, Is.Zero);
            Assert.That(later.SinceLastSuccess, Is.EqualTo(TimeSpan.FromSeconds(3)));
            Assert.That(overlaps, Is.Zero);
            Assert.That(runs.Reader.TryRead(out _), Is.False);
        });
    }

    [Test]
    public async Task A_failing_job_counts_a_failed_run_and_the_loop_goes_on()
    {
        var time = new WatchedTimeProvider();
        var ran = Channel.CreateUnbounded<int>();
        int n = 0;
        await using PeriodicLoop loop = PeriodicLoop.Start(
            new PeriodicLoopOptions { Name = "flaky", Interval = TimeSpan.FromSeconds(1), RunAtStart = true, TimeProvider = time },
            _ =>
            {
                int run = Interlocked.Increment(ref n);
                ran.Writer.TryWrite(run);
                return run == 1 ? throw new TimeoutException() : ValueTask.FromResult(new LoopRun(1, 0));
            });
        Assert.That(await ran.Reader.ReadAsync().AsTask().Within(), Is.EqualTo(1));
        await time.NextTimerAsync();
        await time.NextTimerAsync();
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.That(await ran.Reader.ReadAsync().AsTask().Within(), Is.EqualTo(2));
        await time.NextTimerAsync();
        LoopMetricsSnapshot metrics = loop.GetMetrics();
        Assert.Multiple(() =>
        {
            Assert.That(metrics.FailedRuns, Is.EqualTo(1));
            Assert.That(metrics.Runs, Is.EqualTo(1));
        });
    }

    [Test]
    public void Bad_loop_and_limiter_options_fail_naming_the_option()
    {
        Assert.Multiple(() =>
        {
            Assert.That(() => PeriodicLoop.Start(new PeriodicLoopOptions { Name = "x", Interval = TimeSpan.Zero }, _ => default), Throws.ArgumentException.With.Property("ParamName").EqualTo("options.Interval"));
            Assert.That(() => PeriodicLoop.Start(new PeriodicLoopOptions(), _ => default), Throws.ArgumentException.With.Property("ParamName").EqualTo("options.Name"));
            Assert.That(() => ConcurrencyLimiter.Create(new ConcurrencyLimiterOptions { Name = "x", MaxConcurrency = 0 }), Throws.ArgumentException.With.Property("ParamName").EqualTo("options.MaxConcurrency"));
        });
    }

    [Test]
    public async Task A_limiter_reports_slots_held_callers_waiting_and_how_long_they_waited()
    {
        var time = new WatchedTimeProvider();
        using ConcurrencyLimiter limiter = ConcurrencyLimiter.Create(new ConcurrencyLimiterOptions { Name = "db", MaxConcurrency = 1, TimeProvider = time });
        ConcurrencyLimiter.Lease first = await limiter.AcquireAsync();
        ValueTask<ConcurrencyLimiter.Lease> second = limiter.AcquireAsync();
        Assert.That(second.IsCompleted, Is.False);
        LimiterMetricsSnapshot busy = limiter.TakeMetricsSnapshot();
        Assert.Multiple(() =>
        {
            Assert.That(busy.Held, Is.EqualTo(1));
            Assert.That(busy.Waiting, Is.EqualTo(1));
            Assert.That(busy.WaitTime.Count, Is.EqualTo(1), "the first acquire did not wait");
            Assert.That(busy.WaitTime.MaxMilliseconds, Is.Zero);
        });

        time.Advance(TimeSpan.FromSeconds(2));
        first.Dispose();
        first.Dispose();
        using (ConcurrencyLimiter.Lease lease = await second.AsTask().Within())
        {
            LimiterMetricsSnapshot after = limiter.TakeMetricsSnapshot();
            Assert.Multiple(() =>
            {
                Assert.That(after.Held, Is.EqualTo(1));
                Assert.That(after.Waiting, Is.Zero);
                Assert.That(after.Acquired, Is.EqualTo(2));
                Assert.That(after.WaitTime.Count, Is.EqualTo(1));
                Assert.That(after.WaitTime.MaxMilliseconds, Is.EqualTo(2000).Within(2000 * 0.035));
            });
        }

        Assert.That(limiter.Held, Is.Zero);
    }
}
