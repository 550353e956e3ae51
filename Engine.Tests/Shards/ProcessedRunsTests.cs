using Engine.Shards;
using Engine.Stages;
using Engine.Tests.Support;

namespace Engine.Tests.Shards;

/// <summary>
/// A worker loop counts processed runs in groups (<see cref="ProcessedRuns"/>): never more than
/// <see cref="ProcessedRuns.MaxCount"/> behind, always before it waits for a handler, and the runs
/// not yet counted are pending, so accepted = processed + pending holds in every read.
/// </summary>
public class ProcessedRunsTests
{
    [Test]
    public async Task A_loop_counts_what_it_processed_before_it_waits_for_a_handler()
    {
        var gate = new Gate();
        await using var stage = Stage.Create(
            new StageOptions<int> { Name = "s", Shards = 1, KeySelector = i => i },
            (int item, CancellationToken ct) => item == 1 ? gate.PassAsync(ct) : default);

        await stage.WriteAsync(0);
        await stage.WriteAsync(1);
        await gate.StartedAsync();

        // The handler reports its start before it returns its pending task to the loop, which only then counts and waits.
        await TestWait.UntilAsync(() => stage.GetCounts().Processed == 1, "item 0 counted while the loop waits on item 1");
        StageCounts counts = stage.GetCounts();
        Assert.Multiple(() =>
        {
            Assert.That(counts.Processed, Is.EqualTo(1), "item 0 completed at once and is counted before the loop waits on item 1");
            Assert.That(counts.Pending, Is.EqualTo(1), "item 1 is in its handler");
            Assert.That(counts.InFlight, Is.EqualTo(1));
        });

        gate.Open();
        stage.Complete();
        await stage.Completion.Within();
        Assert.That(stage.GetCounts().Processed, Is.EqualTo(2));
    }

    [TestCase(false)]
    [TestCase(true)]
    public async Task A_draining_loop_is_never_more_than_a_group_behind_and_its_runs_stay_pending(bool metrics)
    {
        const int items = 3 * ProcessedRuns.MaxCount;
        const int blockAt = items - 1;
        using var started = new SemaphoreSlim(0);
        using var release = new ManualResetEventSlim();
        await using var stage = Stage.Create(
            new StageOptions<int> { Name = "s", Shards = 1, Metrics = metrics, KeySelector = i => i },
            (int item, CancellationToken ct) =>
            {
                if (item == blockAt)
                {
                    started.Release();
                    release.Wait(TestWait.Patience, ct);
                }
            });

        for (int i = 0; i < items; i++)
        {
            await stage.WriteAsync(i);
        }

        Assert.That(await started.WaitAsync(TestWait.Patience), Is.True, "the last item's handler started");
        StageCounts counts = stage.GetCounts();
        release.Set();
        Assert.Multiple(() =>
        {
            Assert.That(counts.Accepted, Is.EqualTo(items));
            Assert.That(counts.Processed, Is.GreaterThanOrEqualTo(blockAt - (ProcessedRuns.MaxCount - 1)), "at most a group short of the runs that ended");
            Assert.That(counts.Processed + counts.Pending, Is.EqualTo(counts.Accepted), "runs not yet counted are pending");
        });

        stage.Complete();
        await stage.Completion.Within();
        Assert.That(stage.GetCounts().Processed, Is.EqualTo(items));
    }
}
