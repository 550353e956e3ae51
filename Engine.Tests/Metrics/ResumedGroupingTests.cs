using Engine.Shards;
using Engine.Stages;
using Engine.Tests.Support;
using Microsoft.Extensions.Time.Testing;

namespace Engine.Tests.Metrics;

/// <summary>
/// A one-worker shard whose loop ended timing its runs in groups starts its next loop that way
/// (<see cref="RunTiming"/>): a worker that drains a few items and exits, over and over, reads the
/// clock once per group and drain, not once or twice per run.
/// </summary>
public class ResumedGroupingTests
{
    [Test]
    public async Task A_loop_after_a_grouped_one_reads_the_clock_per_group_not_per_run()
    {
        var time = new CountingTimeProvider();
        using var firstHeld = new ManualResetEventSlim();
        using var secondHeld = new ManualResetEventSlim();
        var drained = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        const int firstBurst = 64;
        const int secondBurst = 32;
        await using Stage<int> stage = Stage.Create(
            new StageOptions<int> { Name = "resume", Shards = 1, KeySelector = _ => "one", TimeProvider = time, LatencySampling = 1024 },
            (int item, CancellationToken ct) =>
            {
                if (item == 0)
                {
                    firstHeld.Wait(TestWait.Patience, ct);
                }
                else if (item == firstBurst)
                {
                    secondHeld.Wait(TestWait.Patience, ct);
                }

                if (item == firstBurst - 1 || item == firstBurst + secondBurst - 1)
                {
                    drained.TrySetResult();
                }
            });

        // The first burst waits behind item 0, so one loop drains it: past 16 fast runs it times groups.
        for (int i = 0; i < firstBurst; i++)
        {
            await stage.WriteAsync(i);
        }

        firstHeld.Set();
        await drained.Task.Within();
        await TestWait.UntilAsync(() => stage.Describe().Contains("loops=0", StringComparison.Ordinal), "the first loop gone");

        // The second burst waits behind its first item, so one new loop drains it: without the
        // hand-on it would time 16 runs one by one (a read each) before grouping again.
        drained = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        long before = time.Reads;
        for (int i = firstBurst; i < firstBurst + secondBurst; i++)
        {
            await stage.WriteAsync(i);
        }

        secondHeld.Set();
        await drained.Task.Within();
        await TestWait.UntilAsync(() => stage.Describe().Contains("loops=0", StringComparison.Ordinal), "the second loop gone");
        long reads = time.Reads - before;

        // One read at the loop's first run and one per group of 4 (its last group's end included);
        // the writes are not timed (one in 1024, and the burst starts past 0). Timing the first 16
        // runs one by one would take at least 17.
        Assert.That(reads, Is.LessThanOrEqualTo(1 + (secondBurst / RunTiming.GroupSize) + 1), $"{reads} clock reads for {secondBurst} runs");
        Assert.That(stage.GetCounts().Processed, Is.EqualTo(firstBurst + secondBurst));
    }

    /// <summary>A fake clock that counts its timestamp reads.</summary>
    private sealed class CountingTimeProvider : FakeTimeProvider
    {
        private long _reads;

        public long Reads => Interlocked.Read(ref _reads);

        public override long GetTimestamp()
        {
            Interlocked.Increment(ref _reads);
            return base.GetTimestamp();
        }
    }
}
