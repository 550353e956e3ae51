using Engine.Dedupe;
using Engine.Retry;
using Engine.Stages;
using Engine.Tests.Support;

namespace Engine.Tests.Stages;

/// <summary>
/// The counts are exact the moment a stage ends, not a moment later: read in <c>Completion</c>'s own
/// continuation and when <c>AbortAsync</c> returns, with writers still racing the ending. Seeded
/// random workloads over full modes, shards, workers, writers, failures, dedupe and every ending.
/// </summary>
/// <remarks>
/// On the code before the fix the identity was short of an accepted item in the continuation (a
/// write counted its item only after a worker could settle it and the shard finish), and writes
/// returned success for items accepted after the stage had finished.
/// </remarks>
public class CountsAtCompletionTests
{
    public enum Ending
    {
        Complete,
        StopAndDrain,
        StopAtOnce,
        Abort,
        Dispose,
    }

    private static IEnumerable<int> Seeds() => Enumerable.Range(1, 1000);

    [TestCaseSource(nameof(Seeds))]
    public async Task Counts_read_as_the_stage_ends_balance_and_include_every_write_that_returned(int seed)
    {
        var random = new Random(seed);
        var mode = (StageFullMode)random.Next(0, 5);
        var ending = (Ending)random.Next(0, 5);
        int writers = random.Next(1, 5);
        int perWriter = random.Next(50, 400);
        bool retries = random.Next(2) == 0;
        bool dedupe = random.Next(3) == 0;
        bool useTryWrite = mode != StageFullMode.DropWrite && random.Next(3) == 0;
        double failureRate = random.NextDouble() * 0.2;
        var stage = Stage.Create(
            new StageOptions<int>
            {
                Name = $"ending-{seed}",
                Shards = random.Next(1, 5),
                WorkersPerShard = random.Next(1, 4),
                UnkeyedWorkers = random.Next(1, 3),
                Capacity = random.Next(1, 9),
                FullMode = mode,
                KeySelector = id => id % 7 == 0 ? default : id % 31,
                Retry = retries ? new RetryOptions { MaxAttempts = 3, BaseDelay = TimeSpan.Zero, MaxDelay = TimeSpan.Zero } : null,
                Dedupe = dedupe ? new DedupeOptions<int> { Mode = DedupeMode.Replace } : null,
            },
            async (id, ct) =>
            {
                int roll = HashCode.Combine(seed, id) & 0xFFFF;
                if (roll % 4 == 0)
                {
                    await Task.Yield();
                }

                if (roll / 65536.0 < failureRate)
                {
                    throw new TimeoutException("random failure");
                }
            });

        // Registered before any write, and run on the completing thread: nothing can move in between.
        StageCounts? atCompletion = null;
        Task observed = stage.Completion.ContinueWith(_ => atCompletion = stage.GetCounts(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

        int attempts = 0;
        int endAfter = random.Next(1, writers * perWriter);
        var endNow = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        long returned = 0;
        long returnedAfterEnd = 0;
        var tasks = new List<Task>();
        for (int w = 0; w < writers; w++)
        {
            int writer = w;
            tasks.Add(Task.Run(async () =>
            {
                for (int i = 0; i < perWriter; i++)
                {
                    if (Interlocked.Increment(ref attempts) == endAfter)
                    {
                        endNow.TrySetResult();
                    }

                    int id = (writer * perWriter) + i;
                    bool endedBefore = stage.Completion.IsCompleted;
                    bool accepted;
                    try
                    {
                        accepted = useTryWrite ? stage.TryWrite(id) : await WriteAsync(stage, id);
                    }
                    catch (StageCompletedException)
                    {
                        break;
                    }

                    if (accepted)
                    {
                        Interlocked.Increment(ref returned);
                        if (endedBefore)
                        {
                            Interlocked.Increment(ref returnedAfterEnd);
                        }
                    }
                }
            }));
        }

        await endNow.Task.Within();
        StageCounts? afterAbort = null;
        switch (ending)
        {
            case Ending.Complete:
                stage.Complete();
                break;
            case Ending.StopAndDrain:
                await stage.StopAsync(Timeout.InfiniteTimeSpan).Within();
                break;
            case Ending.StopAtOnce:
                await stage.StopAsync(TimeSpan.Zero).Within();
                break;
            case Ending.Abort:
                afterAbort = await stage.AbortAsync().Within();
                break;
            case Ending.Dispose:
                await stage.DisposeAsync().Within();
                break;
        }

        await Task.WhenAll(tasks).Within();
        await observed.Within();
        StageCounts final = stage.GetCounts();
        string context = $"seed {seed}, {mode}, {ending}, tryWrite={useTryWrite}, dedupe={dedupe}";
        Assert.Multiple(() =>
        {
            Assert.That(atCompletion!.Value.IsConserved, Is.True, $"{context}: in Completion's continuation {atCompletion}");
            Assert.That(atCompletion.Value.Accepted, Is.EqualTo(final.Accepted), $"{context}: accepted after Completion");
            Assert.That(returnedAfterEnd, Is.Zero, $"{context}: writes that began after the stage ended returned success");
            Assert.That(final.IsConserved, Is.True, $"{context}: {final}");
            if (afterAbort is { } aborted)
            {
                Assert.That(aborted.IsConserved, Is.True, $"{context}: when AbortAsync returned {aborted}");
            }

            // A write that returned put its item in (DropWrite: accepted, then dropped and counted).
            Assert.That(final.Accepted, Is.EqualTo(returned), $"{context}: {final}");
        });

        await stage.DisposeAsync();
    }

    /// <summary>WriteAsync, with a refusal by a full Reject stage counted as not accepted.</summary>
    private static async Task<bool> WriteAsync(Stage<int> stage, int id)
    {
        try
        {
            await stage.WriteAsync(id);
            return true;
        }
        catch (StageFullException)
        {
            return false;
        }
    }
}
