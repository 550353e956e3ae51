using Engine.Dedupe;
using Engine.Stages;

using Engine.Tests.Support;

namespace Engine.Tests.Stages;

/// <summary>
/// Every callback of an item (superseded, dropped, dead-lettered, handler error) has returned before
/// the stage's <see cref="Stage{T}.Completion"/> completes: no callback starts once <c>Completion</c>
/// is completed, and a user who counts in the callbacks and reads the count in a continuation of
/// <c>Completion</c> (or after any ending returns) sees the same figures as the stage's counts. Thousands of seeded workloads (four times as many with
/// <c>CI=true</c>) over every full mode, every dedupe shape, retries, single and batched writes and
/// every ending.
/// </summary>
/// <remarks>
/// On the code before the fix of issue 30 this failed: in the replace branch of a deduped write the
/// writer released its own count before it ran the deferred <c>OnSuperseded</c>, so the shard could
/// finish in between and the callback ran after <c>Completion</c> had completed.
/// </remarks>
public class CallbacksBeforeCompletionTests
{
    private static readonly bool Ci = string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    private static int Seeds => Ci ? 8_000 : 2_000;

    [TestCase(StageFullMode.Wait, QueueKind.Runtime)]
    [TestCase(StageFullMode.DropOldest, QueueKind.Runtime)]
    [TestCase(StageFullMode.DropNewest, QueueKind.Runtime)]
    [TestCase(StageFullMode.DropWrite, QueueKind.Runtime)]
    [TestCase(StageFullMode.Reject, QueueKind.Runtime)]
    [TestCase(StageFullMode.Wait, QueueKind.Ring)]
    [TestCase(StageFullMode.DropWrite, QueueKind.Ring)]
    [TestCase(StageFullMode.Reject, QueueKind.Ring)]
    public async Task Every_callback_has_run_when_completion_completes(StageFullMode fullMode, QueueKind queue)
    {
        int seeds = fullMode == StageFullMode.Wait ? Seeds : Seeds / 4;
        for (int seed = 0; seed < seeds; seed++)
        {
            var run = new StageTorture(seed, fullMode, queue.ToShardQueue());
            await run.RunAsync();
            StageCounts final = run.Counts;
            StageCounts? atCompletion = run.CountsAtCompletion;
            (int superseded, int dropped, int deadLettered, int handlerErrors) = run.CallbacksAtCompletion;
            Assert.That(atCompletion, Is.Not.Null, $"{run}: completion's continuation did not run");
            Assert.Multiple(() =>
            {
                Assert.That(run.LateCallbacks, Is.Zero, $"{run}: callbacks started after completion completed");
                Assert.That(final.IsConserved, Is.True, $"{run}: {final}");
                // Writes that race the ending are refused after it too: only those may still move a count.
                Assert.That(atCompletion!.Value with { Refused = 0 }, Is.EqualTo(final with { Refused = 0 }), $"{run}: the counts moved after completion");
                Assert.That(superseded, Is.EqualTo(final.Superseded), $"{run}: OnSuperseded calls when completion completed");
                Assert.That(dropped, Is.EqualTo(final.Dropped), $"{run}: OnDropped calls when completion completed");
                Assert.That(deadLettered, Is.EqualTo(final.DeadLettered), $"{run}: OnDeadLetter calls when completion completed");
                Assert.That(handlerErrors, Is.EqualTo(final.HandlerErrors), $"{run}: OnHandlerError calls when completion completed");
                Assert.That(run.Callbacks, Is.EqualTo(run.CallbacksAtCompletion), $"{run}: a callback ran after completion completed");
            });
        }
    }

    [Test]
    public async Task A_superseded_callback_that_has_not_returned_holds_completion_back()
    {
        var running = new Gate();
        var inCallback = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var leaveCallback = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var stage = Stage.Create(
            new StageOptions<(int Key, int Version)>
            {
                Name = "late-callback",
                Shards = 1,
                WorkersPerShard = 1,
                KeySelector = item => item.Key,
                Dedupe = new DedupeOptions<(int Key, int Version)>
                {
                    Mode = DedupeMode.Replace,
                    OnSuperseded = (_, _) =>
                    {
                        inCallback.TrySetResult();
                        leaveCallback.Task.Wait(TestWait.Patience);
                    },
                },
            },
            async (item, ct) =>
            {
                if (item.Version == 0)
                {
                    await running.PassAsync(ct);
                }
            });

        // Version 0 runs and holds its key; version 1 waits behind it; version 2 replaces version 1,
        // and its writer stays inside OnSuperseded.
        await stage.WriteAsync((1, 0));
        await running.StartedAsync();
        await stage.WriteAsync((1, 1));
        Task replacing = Task.Run(async () => await stage.WriteAsync((1, 2)));
        await inCallback.Task.Within();

        // Everything else settles while the callback still runs.
        stage.Complete();
        running.Open();
        await TestWait.UntilAsync(
            () => stage.Completion.IsCompleted || stage.GetCounts() is { Processed: 2, InFlight: 0, Waiting: 0 },
            "both runs processed");
        await TestWait.UntilAsync(() => stage.Completion.IsCompleted || stage.Describe().Contains("loops=0", StringComparison.Ordinal), "the loop gone");
        Assert.That(stage.Completion.IsCompleted, Is.False, "Completion completed while OnSuperseded was still running");

        leaveCallback.SetResult();
        await replacing.Within();
        await stage.Completion.Within();
        StageCounts counts = stage.GetCounts();
        Assert.That((counts.Processed, counts.Superseded, counts.IsConserved), Is.EqualTo((2L, 1L, true)));
        await stage.DisposeAsync();
    }
}
