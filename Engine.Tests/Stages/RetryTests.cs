using System.Collections.Concurrent;
using System.Threading.Channels;
using Engine.Retry;
using Engine.Stages;
using Engine.Tests.Support;

namespace Engine.Tests.Stages;

public class RetryTests
{
    private sealed class TransientException : Exception
    {
        public TransientException()
            : base("transient")
        {
        }
    }

    [Test]
    public void The_backoff_grows_by_the_multiplier_and_stops_at_the_cap()
    {
        var policy = new RetryPolicy(new RetryOptions { BaseDelay = TimeSpan.FromMilliseconds(100), BackoffMultiplier = 2, MaxDelay = TimeSpan.FromMilliseconds(700) });
        var delays = Enumerable.Range(1, 5).Select(n => policy.NominalDelay(n).TotalMilliseconds);
        Assert.That(delays, Is.EqualTo(new[] { 100.0, 200.0, 400.0, 700.0, 700.0 }));
    }

    [Test]
    public void Jitter_only_shortens_a_delay_and_by_at_most_the_ratio()
    {
        var policy = new RetryPolicy(new RetryOptions { BaseDelay = TimeSpan.FromSeconds(1), JitterRatio = 0.25 });
        Assert.Multiple(() =>
        {
            Assert.That(policy.Delay(1, 0.0), Is.EqualTo(TimeSpan.FromSeconds(1)));
            Assert.That(policy.Delay(1, 0.5), Is.EqualTo(TimeSpan.FromMilliseconds(875)));
            Assert.That(policy.Delay(1, 0.999999), Is.GreaterThan(TimeSpan.FromMilliseconds(750)));
        });
    }

    [Test]
    public async Task Retries_follow_the_backoff_schedule_on_the_stage_clock()
    {
        var time = new WatchedTimeProvider();
        var attempts = Channel.CreateUnbounded<DateTimeOffset>();
        var deadLetters = new ConcurrentQueue<ItemFailure>();
        await using var stage = Stage.Create(
            new StageOptions<string>
            {
                Name = "enrich",
                KeySelector = s => s,
                TimeProvider = time,
                Retry = new RetryOptions { MaxAttempts = 4, BaseDelay = TimeSpan.FromMilliseconds(100), MaxDelay = TimeSpan.FromMilliseconds(300), JitterRatio = 0 },
                OnDeadLetter = (_, failure) => deadLetters.Enqueue(failure),
            },
            (string _, CancellationToken _) =>
            {
                attempts.Writer.TryWrite(time.GetUtcNow());
                throw new TransientException();
            });

        DateTimeOffset start = time.GetUtcNow();
        await stage.WriteAsync("a");
        Assert.That(await attempts.Reader.ReadAsync().AsTask().Within(), Is.EqualTo(start));

        foreach (double expected in new[] { 100.0, 200.0, 300.0 })
        {
            Assert.That((await time.NextTimerAsync()).TotalMilliseconds, Is.EqualTo(expected));
            time.Advance(TimeSpan.FromMilliseconds(expected - 1));
            Assert.That(attempts.Reader.TryRead(out _), Is.False, "no retry before its backoff ends");
            time.Advance(TimeSpan.FromMilliseconds(1));
            DateTimeOffset at = await attempts.Reader.ReadAsync().AsTask().Within();
            start += TimeSpan.FromMilliseconds(expected);
            Assert.That(at, Is.EqualTo(start));
        }

        stage.Complete();
        await stage.Completion.Within();
        StageCounts counts = stage.GetCounts();
        Assert.Multiple(() =>
        {
            Assert.That(counts.Retries, Is.EqualTo(3));
            Assert.That(counts.HandlerErrors, Is.EqualTo(4));
            Assert.That(counts.DeadLettered, Is.EqualTo(1));
            Assert.That(deadLetters.Single().Attempts, Is.EqualTo(4));
            Assert.That(deadLetters.Single().Transient, Is.True);
            Assert.That(deadLetters.Single().Exception, Is.TypeOf<TransientException>());
        });
    }

    [Test]
    public async Task A_jittered_retry_runs_within_its_bounds()
    {
        var time = new WatchedTimeProvider();
        var attempts = Channel.CreateUnbounded<int>();
        int runs = 0;
        await using var stage = Stage.Create(
            new StageOptions<string>
            {
                Name = "s",
                KeySelector = s => s,
                TimeProvider = time,
                Retry = new RetryOptions { MaxAttempts = 2, BaseDelay = TimeSpan.FromSeconds(1), JitterRatio = 0.5 },
            },
            (string _, CancellationToken _) =>
            {
                attempts.Writer.TryWrite(Interlocked.Increment(ref runs));
                if (runs == 1)
                {
                    throw new TransientException();
                }
            });

        await stage.WriteAsync("a");
        await attempts.Reader.ReadAsync().AsTask().Within();
        TimeSpan due = await time.NextTimerAsync();
        Assert.That(due, Is.InRange(TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(1)));

        time.Advance(TimeSpan.FromMilliseconds(499));
        Assert.That(attempts.Reader.TryRead(out _), Is.False);
        time.Advance(TimeSpan.FromMilliseconds(501));
        Assert.That(await attempts.Reader.ReadAsync().AsTask().Within(), Is.EqualTo(2));
    }

    [Test]
    public async Task A_permanent_failure_is_dead_lettered_at_once()
    {
        var deadLetters = new ConcurrentQueue<(string Item, ItemFailure Failure)>();
        await using var stage = Stage.Create(
            new StageOptions<string>
            {
                Name = "store",
                KeySelector = s => s,
                Retry = new RetryOptions { MaxAttempts = 5, IsTransient = ex => ex is TransientException },
                OnDeadLetter = (item, failure) => deadLetters.Enqueue((item, failure)),
            },
            (string _, CancellationToken _) => throw new InvalidDataException("corrupt"));

        await stage.WriteAsync("a");
        stage.Complete();
        await stage.Completion.Within();

        var (item, failure) = deadLetters.Single();
        Assert.Multiple(() =>
        {
            Assert.That(item, Is.EqualTo("a"));
            Assert.That(failure.Attempts, Is.EqualTo(1));
            Assert.That(failure.Transient, Is.False);
            Assert.That(failure.Stage, Is.EqualTo("store"));
            Assert.That(stage.GetCounts().Retries, Is.Zero);
        });
    }

    [Test]
    public async Task A_key_s_later_items_wait_behind_its_retry_while_other_keys_go_on()
    {
        var time = new WatchedTimeProvider();
        var processed = Channel.CreateUnbounded<string>();
        int firstA = 0;
        await using var stage = Stage.Create(
            new StageOptions<string>
            {
                Name = "s",
                Shards = 1,
                KeySelector = s => s[..1],
                TimeProvider = time,
                Retry = new RetryOptions { MaxAttempts = 3, BaseDelay = TimeSpan.FromSeconds(1), JitterRatio = 0 },
            },
            (string item, CancellationToken _) =>
            {
                if (item == "a1" && Interlocked.Increment(ref firstA) == 1)
                {
                    throw new TransientException();
                }

                processed.Writer.TryWrite(item);
            });

        await stage.WriteAsync("a1");
        await time.NextTimerAsync();
        await stage.WriteAsync("a2");
        await stage.WriteAsync("b1");

        Assert.That(await processed.Reader.ReadAsync().AsTask().Within(), Is.EqualTo("b1"), "the worker is free while a1 waits");
        Assert.That(processed.Reader.TryRead(out _), Is.False, "a2 waits behind a1's retry");
        Assert.That(stage.GetCounts().Waiting, Is.EqualTo(2), "a1 waiting for its retry, a2 parked");

        time.Advance(TimeSpan.FromSeconds(1));
        Assert.That(await processed.Reader.ReadAsync().AsTask().Within(), Is.EqualTo("a1"));
        Assert.That(await processed.Reader.ReadAsync().AsTask().Within(), Is.EqualTo("a2"));

        stage.Complete();
        await stage.Completion.Within();
        Assert.That(stage.GetCounts().Processed, Is.EqualTo(3));
    }

    [Test]
    public async Task A_throwing_IsTransient_predicate_makes_the_failure_permanent_and_is_counted()
    {
        await using var stage = Stage.Create(
            new StageOptions<int>
            {
                Name = "s",
                Retry = new RetryOptions { IsTransient = _ => throw new InvalidOperationException("predicate bug") },
            },
            (int _, CancellationToken _) => throw new TransientException());

        await stage.WriteAsync(1);
        stage.Complete();
        await stage.Completion.Within();
        StageCounts counts = stage.GetCounts();
        Assert.Multiple(() =>
        {
            Assert.That(counts.DeadLettered, Is.EqualTo(1));
            Assert.That(counts.CallbackErrors, Is.EqualTo(1));
            Assert.That(counts.Retries, Is.Zero);
        });
    }
    [Test]
    public async Task Every_failed_run_is_reported_before_its_retry_or_dead_letter_and_a_throwing_report_is_counted()
    {
        var time = new WatchedTimeProvider();
        var reports = new ConcurrentQueue<string>();
        int runs = 0;
        await using var stage = Stage.Create(
            new StageOptions<string>
            {
                Name = "s",
                Shards = 1,
                KeySelector = s => s,
                TimeProvider = time,
                Retry = new RetryOptions { MaxAttempts = 3, BaseDelay = TimeSpan.FromSeconds(1), JitterRatio = 0, IsTransient = ex => ex is TransientException },
                OnHandlerError = (item, failure) =>
                {
                    reports.Enqueue($"{item} attempt {failure.Attempts} transient={failure.Transient} {failure.Exception.Message} stage={failure.Stage}");
                    if (failure.Attempts == 2)
                    {
                        throw new InvalidOperationException("a bug in the report");
                    }
                },
                OnDeadLetter = (item, failure) => reports.Enqueue($"{item} dead after {failure.Attempts}"),
            },
            (string item, CancellationToken _) =>
            {
                if (item == "flaky" && Interlocked.Increment(ref runs) <= 2)
                {
                    throw new TransientException();
                }

                if (item == "bad")
                {
                    throw new InvalidDataException("permanent");
                }
            });

        await stage.WriteAsync("flaky");
        await time.NextTimerAsync();
        time.Advance(TimeSpan.FromSeconds(1));
        await time.NextTimerAsync();
        time.Advance(TimeSpan.FromSeconds(2));
        await TestWait.UntilAsync(() => stage.GetCounts().Processed == 1, "flaky processed on its third attempt");
        await stage.WriteAsync("bad");
        stage.Complete();
        await stage.Completion.Within();

        Assert.That(reports, Is.EqualTo(new[]
        {
            "flaky attempt 1 transient=True transient stage=s",
            "flaky attempt 2 transient=True transient stage=s",
            "bad attempt 1 transient=False permanent stage=s",
            "bad dead after 1",
        }));
        StageCounts counts = stage.GetCounts();
        Assert.Multiple(() =>
        {
            Assert.That(counts.HandlerErrors, Is.EqualTo(3));
            Assert.That(counts.CallbackErrors, Is.EqualTo(1), "the report that threw");
            Assert.That(counts.Retries, Is.EqualTo(2), "the throwing report did not stop the retry");
            Assert.That(counts.DeadLettered, Is.EqualTo(1));
        });
    }
}
