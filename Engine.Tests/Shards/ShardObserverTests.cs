using System.Collections.Concurrent;
using Engine.Retry;
using Engine.Shards;
using Engine.Tests.Support;

namespace Engine.Tests.Shards;

/// <summary>
/// A shard alone, without a stage or metrics: what it tells its observer, on a fake clock. The
/// observer here records every call, so each figure the metrics are built from can be checked at the seam.
/// </summary>
public class ShardObserverTests
{
    private sealed class RecordingObserver(bool endToEnd, bool kinds) : ShardObserver
    {
        public readonly ConcurrentQueue<string> Calls = new();
        public int Workers;

        public override bool RecordsEndToEnd => endToEnd;

        public override bool CountsKinds => kinds;

        public override ShardWorker ClaimWorker()
        {
            Interlocked.Increment(ref Workers);
            return new Worker(this);
        }

        public override void Held(long items) => Calls.Enqueue($"held {items}");

        public override void RunStarted(ShardWorker worker, long start, long waited) => Calls.Enqueue($"start waited={waited}");

        public override void RunEnded(ShardWorker worker, long start, long end) => Calls.Enqueue($"end took={end - start}");

        public override void RunsEnded(ShardWorker worker, long start, long end, int runs) => Calls.Enqueue($"runs {runs} took={end - start}");

        public override void EndToEndLatency(long ticks, long at) => Calls.Enqueue($"e2e {ticks}");

        public override void Kind(string? kind, RunOutcome outcome) => Calls.Enqueue($"kind {kind} {outcome}");

        private sealed class Worker(RecordingObserver owner) : ShardWorker
        {
            public override void Release() => Interlocked.Decrement(ref owner.Workers);
        }
    }

    private static (Shard<int> Shard, Task Finished) Create(WatchedTimeProvider time, ShardObserver? observer, Action<int, CancellationToken>? handler, RetryOptions? retry = null, Func<int, string?>? kind = null, int capacity = 8, Func<int, CancellationToken, ValueTask>? asyncHandler = null)
    {
        var finished = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var settings = new ShardSettings<int>
        {
            Name = "alone",
            Capacity = capacity,
            TimeProvider = time,
            Retry = retry is null ? RetryPolicy.None : new RetryPolicy(retry),
            MetricsEnabled = observer is not null,
            KindSelector = kind,
            SyncHandler = handler,
            AsyncHandler = asyncHandler,
        };
        var shard = new Shard<int>(settings, 0, keyed: true, workers: 1, _ => finished.TrySetResult(), observer);
        return (shard, finished.Task);
    }

    [Test]
    public async Task Fast_runs_are_timed_in_groups_and_a_slow_group_goes_back_to_one_by_one()
    {
        const int items = 40;
        var time = new WatchedTimeProvider();
        var observer = new RecordingObserver(endToEnd: false, kinds: false);
        using var allWritten = new ManualResetEventSlim();
        long microsecond = RunTiming.ExactGroupTicks(time.TimestampFrequency);
        (Shard<int> shard, Task finished) = Create(
            time,
            observer,
            (i, ct) =>
            {
                if (i == 0)
                {
                    allWritten.Wait(TestWait.Patience, ct);
                }
                else if (i == 30)
                {
                    // Two microseconds in the group of runs 28..31.
                    time.Advance(TimeSpan.FromTicks(2 * microsecond * TimeSpan.TicksPerSecond / time.TimestampFrequency));
                }
            },
            capacity: 64);

        for (int i = 0; i < items; i++)
        {
            Assert.That(shard.TryWrite(new Envelope<int>(i, "k", 1, 1), willWait: false), Is.EqualTo(WriteOutcome.Accepted));
        }

        allWritten.Set();
        shard.Complete();
        await finished.Within();

        string[] expected =
        [
            .. Enumerable.Repeat("end took=0", RunTiming.FastRunsToGroup),
            "runs 4 took=0", "runs 4 took=0", "runs 4 took=0",
            $"runs 4 took={2 * microsecond}",
            .. Enumerable.Repeat("end took=0", 8),
        ];
        Assert.That(observer.Calls.Where(c => c.StartsWith("end", StringComparison.Ordinal) || c.StartsWith("runs", StringComparison.Ordinal)), Is.EqualTo(expected));
        Assert.That(shard.Counters.Processed, Is.EqualTo(items));
    }

    [Test]
    public async Task An_asynchronous_run_that_waits_ends_its_group_and_is_timed_alone()
    {
        const int items = 24;
        const int waits = RunTiming.FastRunsToGroup + 2;
        var io = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var time = new WatchedTimeProvider();
        var observer = new RecordingObserver(endToEnd: false, kinds: false);
        using var allWritten = new ManualResetEventSlim();
        (Shard<int> shard, Task finished) = Create(
            time,
            observer,
            handler: null,
            capacity: 64,
            asyncHandler: async (i, ct) =>
            {
                if (i == 0)
                {
                    allWritten.Wait(TestWait.Patience, ct);
                }
                else if (i == waits)
                {
                    // Waits (as for I/O); the test lets the time pass while it waits.
                    await io.Task;
                }
            });

        for (int i = 0; i < items; i++)
        {
            Assert.That(shard.TryWrite(new Envelope<int>(i, "k", 1, 1), willWait: false), Is.EqualTo(WriteOutcome.Accepted));
        }

        allWritten.Set();
        await TestWait.UntilAsync(() => observer.Calls.Any(c => c.StartsWith("runs", StringComparison.Ordinal)), "the group before the waiting run is closed");
        time.Advance(TimeSpan.FromTicks(30));
        io.SetResult();
        shard.Complete();
        await finished.Within();

        long took = TimeSpan.FromTicks(30).Ticks * time.TimestampFrequency / TimeSpan.TicksPerSecond;
        string[] expected =
        [
            .. Enumerable.Repeat("end took=0", RunTiming.FastRunsToGroup),
            "runs 2 took=0",
            $"end took={took}",
            .. Enumerable.Repeat("end took=0", items - waits - 1),
        ];
        Assert.That(observer.Calls.Where(c => c.StartsWith("end", StringComparison.Ordinal) || c.StartsWith("runs", StringComparison.Ordinal)), Is.EqualTo(expected));
        Assert.That(shard.Counters.Processed, Is.EqualTo(items));
    }

    [Test]
    public async Task End_to_end_latency_is_never_negative_even_for_an_item_that_entered_after_its_group_started()
    {
        var time = new WatchedTimeProvider();
        var observer = new RecordingObserver(endToEnd: true, kinds: false);
        using var allWritten = new ManualResetEventSlim();
        (Shard<int> shard, Task finished) = Create(time, observer, (i, ct) =>
        {
            if (i == 0)
            {
                allWritten.Wait(TestWait.Patience, ct);
            }
        }, capacity: 64);

        // Items from 16 on run in groups, settled as of their group's start; these entered later than that.
        long later = time.GetTimestamp() + 1_000;
        for (int i = 0; i < 24; i++)
        {
            Assert.That(shard.TryWrite(new Envelope<int>(i, "k", i < RunTiming.FastRunsToGroup ? 1 : later, 1), willWait: false), Is.EqualTo(WriteOutcome.Accepted));
        }

        allWritten.Set();
        shard.Complete();
        await finished.Within();
        long[] latencies = observer.Calls.Where(c => c.StartsWith("e2e ", StringComparison.Ordinal)).Select(c => long.Parse(c[4..], System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        Assert.That(latencies, Has.Length.EqualTo(24));
        Assert.That(latencies, Has.All.GreaterThanOrEqualTo(0));
    }

    [Test]
    public async Task Writes_during_grouped_runs_are_stamped_with_the_loop_s_last_clock_read_and_otherwise_with_the_clock()
    {
        var time = new WatchedTimeProvider();
        var observer = new RecordingObserver(endToEnd: false, kinds: false);
        using var allWritten = new ManualResetEventSlim();
        Shard<int>? shard = null;
        long oneByOne = -1, oneByOneNow = -2, grouped = -1, groupedNow = -2;
        (shard, Task finished) = Create(
            time,
            observer,
            (i, ct) =>
            {
                if (i == 0)
                {
                    allWritten.Wait(TestWait.Patience, ct);
                }
                else if (i == 5)
                {
                    time.Advance(TimeSpan.FromTicks(1));
                    (oneByOne, oneByOneNow) = (shard!.AcceptStamp(), time.GetTimestamp());
                }
                else if (i == RunTiming.FastRunsToGroup + 1)
                {
                    // The second run of the first group: the clock moves on, less than a microsecond.
                    time.Advance(TimeSpan.FromTicks(1));
                    (grouped, groupedNow) = (shard!.AcceptStamp(), time.GetTimestamp());
                }
            },
            capacity: 64);

        for (int i = 0; i < 24; i++)
        {
            Assert.That(shard.TryWrite(new Envelope<int>(i, "k", 1, 1), willWait: false), Is.EqualTo(WriteOutcome.Accepted));
        }

        allWritten.Set();
        shard.Complete();
        await finished.Within();
        Assert.Multiple(() =>
        {
            Assert.That(oneByOne, Is.EqualTo(oneByOneNow), "runs timed one by one: a write reads the clock");
            Assert.That(grouped, Is.LessThan(groupedNow), "grouped runs: a write takes the loop's last read, which is earlier");
            Assert.That(groupedNow - grouped, Is.LessThan(RunTiming.ExactGroupTicks(time.TimestampFrequency)), "at most a group old");
            Assert.That(shard.AcceptStamp(), Is.EqualTo(time.GetTimestamp()), "no loop runs: the clock again");
        });
    }

    [Test]
    public async Task Each_run_reports_its_queue_wait_and_its_duration_on_the_shard_s_clock()
    {
        var time = new WatchedTimeProvider();
        var observer = new RecordingObserver(endToEnd: true, kinds: true);
        (Shard<int> shard, Task finished) = Create(time, observer, (i, _) => time.Advance(TimeSpan.FromTicks(i)), kind: i => i % 2 == 0 ? "even" : "odd");

        long accepted = time.GetTimestamp();
        time.Advance(TimeSpan.FromTicks(5));
        long entry = accepted - 100;
        Assert.That(shard.TryWrite(new Envelope<int>(7, "k", entry, accepted), willWait: false), Is.EqualTo(WriteOutcome.Accepted));
        shard.Complete();
        await finished.Within();

        long ticks = TimeSpan.FromTicks(7).Ticks * time.TimestampFrequency / TimeSpan.TicksPerSecond;
        long waited = TimeSpan.FromTicks(5).Ticks * time.TimestampFrequency / TimeSpan.TicksPerSecond;
        Assert.Multiple(() =>
        {
            Assert.That(observer.Calls, Is.EqualTo(new[]
            {
                "held 1",
                $"start waited={waited}",
                $"end took={ticks}",
                "kind odd Processed",
                $"e2e {waited + ticks + 100}",
            }));
            Assert.That(observer.Workers, Is.Zero, "every worker handle was given back");
        });
    }

    [Test]
    public async Task A_retried_item_reports_its_queue_wait_once_and_a_dead_letter_its_outcome()
    {
        var time = new WatchedTimeProvider();
        var observer = new RecordingObserver(endToEnd: false, kinds: true);
        (Shard<int> shard, Task finished) = Create(time, observer, (_, _) => throw new TimeoutException(), new RetryOptions { MaxAttempts = 2, BaseDelay = TimeSpan.FromSeconds(1), MaxDelay = TimeSpan.FromSeconds(1), IsTransient = _ => true }, _ => "k");

        long now = time.GetTimestamp();
        shard.TryWrite(new Envelope<int>(1, "k", now, now), willWait: false);
        await time.NextTimerAsync();
        time.Advance(TimeSpan.FromSeconds(2));
        shard.Complete();
        await finished.Within();

        string[] calls = [.. observer.Calls];
        Assert.Multiple(() =>
        {
            Assert.That(calls.Count(c => c.StartsWith("start", StringComparison.Ordinal)), Is.EqualTo(2));
            Assert.That(calls.Count(c => c == "start waited=-1"), Is.EqualTo(1), "the retry is no queue wait");
            Assert.That(calls, Has.Member("kind k DeadLettered"));
            Assert.That(calls, Has.None.StartsWith("e2e"), "a stage that is not a sink records no end-to-end latency");
            Assert.That(shard.ReadCounts().DeadLettered, Is.EqualTo(1));
        });
    }

    [Test]
    public async Task Without_an_observer_the_shard_reads_no_clock()
    {
        var time = new CountingTimeProvider();
        var finished = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var settings = new ShardSettings<int> { Name = "dark", Capacity = 8, TimeProvider = time, Retry = RetryPolicy.None, SyncHandler = (_, _) => { } };
        var shard = new Shard<int>(settings, 0, keyed: true, workers: 1, _ => finished.TrySetResult(), observer: null);
        for (int i = 0; i < 5; i++)
        {
            shard.TryWrite(new Envelope<int>(i, i, 0, 0), willWait: false);
        }

        shard.Complete();
        await finished.Task.Within();
        Assert.Multiple(() =>
        {
            Assert.That(shard.ReadCounts().Processed, Is.EqualTo(5));
            Assert.That(time.Reads, Is.Zero);
        });
    }

    private sealed class CountingTimeProvider : TimeProvider
    {
        public int Reads;

        public override long GetTimestamp()
        {
            Interlocked.Increment(ref Reads);
            return base.GetTimestamp();
        }
    }
}
