using Engine.Loops;
using Engine.Pipelines;
using Engine.Stages;
using Engine.Tests.Support;

namespace Engine.Tests.Stages;

/// <summary>
/// Every lifecycle call is safe after disposal, twice, in any order and concurrently, as documented:
/// none throws, none hangs, and the counts do not move.
/// </summary>
/// <remarks>
/// On the code before the fix, <c>AbortAsync</c> after <c>DisposeAsync</c> threw
/// <see cref="ObjectDisposedException"/> (the stage disposed its abort token's source).
/// </remarks>
public class LifecycleAfterDisposalTests
{
    private static IEnumerable<int> Orders() => Enumerable.Range(0, 12);

    [TestCaseSource(nameof(Orders))]
    public async Task A_disposed_stage_takes_every_lifecycle_call_in_any_order(int order)
    {
        var stage = Stage.Create(new StageOptions<int> { Name = "disposed", KeySelector = i => i }, (int _, CancellationToken _) => { });
        await stage.WriteAsync(1);
        await stage.DisposeAsync();
        StageCounts before = stage.GetCounts();

        Func<Task>[] calls =
        [
            () => { stage.Complete(); return Task.CompletedTask; },
            () => stage.StopAsync(TimeSpan.Zero).AsTask(),
            () => stage.StopAsync(Timeout.InfiniteTimeSpan).AsTask(),
            () => stage.AbortAsync().AsTask(),
            () => stage.DisposeAsync().AsTask(),
        ];
        var random = new Random(order);
        Func<Task>[] shuffled = [.. calls, .. calls];
        random.Shuffle(shuffled);

        // Half in sequence, half all at once.
        if (order % 2 == 0)
        {
            foreach (Func<Task> call in shuffled)
            {
                await call().Within();
            }
        }
        else
        {
            await Task.WhenAll(shuffled.Select(call => Task.Run(call))).Within();
        }

        Assert.Multiple(() =>
        {
            Assert.That(stage.GetCounts(), Is.EqualTo(before));
            Assert.That(before.Processed, Is.EqualTo(1));
            Assert.That(stage.Completion.IsCompletedSuccessfully, Is.True);
        });
        Assert.ThrowsAsync<StageCompletedException>(async () => await stage.WriteAsync(2));
    }

    [TestCaseSource(nameof(Orders))]
    public async Task Lifecycle_calls_racing_a_dispose_all_return(int order)
    {
        var gate = new Gate();
        var stage = Stage.Create(new StageOptions<int> { Name = "racing", KeySelector = i => i, DisposeDrainTimeout = TimeSpan.Zero }, async (int _, CancellationToken ct) => await gate.PassAsync(ct));
        await stage.WriteAsync(1);
        await stage.WriteAsync(2);
        await gate.StartedAsync();

        Func<Task>[] calls =
        [
            () => stage.DisposeAsync().AsTask(),
            () => stage.DisposeAsync().AsTask(),
            () => stage.AbortAsync().AsTask(),
            () => stage.StopAsync(TimeSpan.Zero).AsTask(),
            () => { stage.Complete(); return Task.CompletedTask; },
        ];
        new Random(order).Shuffle(calls);
        await Task.WhenAll(calls.Select(call => Task.Run(call))).Within();

        StageCounts counts = stage.GetCounts();
        Assert.Multiple(() =>
        {
            Assert.That(counts.IsConserved, Is.True, counts.ToString());
            Assert.That(counts.Accepted, Is.EqualTo(2));
            Assert.That(stage.Completion.IsCompleted, Is.True);
        });
    }

    [Test]
    public async Task A_disposed_pipeline_takes_every_lifecycle_call_twice_and_concurrently()
    {
        var pipeline = Pipeline.Create<int>("disposed")
            .Then<int>("double", (i, _) => ValueTask.FromResult(i * 2), o => o.KeySelector = i => i)
            .Sink("store", (_, _, _) => default)
            .Build();
        await pipeline.WriteAsync(1);
        await pipeline.DisposeAsync();
        PipelineCounts before = pipeline.GetCounts();

        pipeline.Complete();
        await pipeline.AbortAsync().Within();
        await pipeline.StopAsync(TimeSpan.Zero).Within();
        await pipeline.DisposeAsync().Within();
        await Task.WhenAll(
            Task.Run(() => pipeline.AbortAsync().AsTask()),
            Task.Run(() => pipeline.DisposeAsync().AsTask()),
            Task.Run(() => pipeline.StopAsync(Timeout.InfiniteTimeSpan).AsTask()),
            Task.Run(pipeline.CompleteAsync)).Within();

        Assert.Multiple(() =>
        {
            Assert.That(pipeline.GetCounts().ToString(), Is.EqualTo(before.ToString()));
            Assert.That(before.IsConserved, Is.True);
            Assert.That(before["store"].Processed, Is.EqualTo(1));
        });
    }

    [Test]
    public async Task A_disposed_loop_takes_stop_and_dispose_again()
    {
        var loop = PeriodicLoop.Start(new PeriodicLoopOptions { Name = "disposed", Interval = TimeSpan.FromHours(1) }, _ => ValueTask.FromResult(new LoopRun(0, 0)));
        await loop.DisposeAsync();
        await loop.StopAsync().Within();
        await loop.DisposeAsync().Within();
        await Task.WhenAll(Task.Run(loop.StopAsync), Task.Run(() => loop.DisposeAsync().AsTask())).Within();
        Assert.That(loop.GetMetrics().Running, Is.Zero);
    }
}
