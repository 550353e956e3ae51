using System.Collections.Concurrent;
using Engine.Pipelines;
using Engine.Stages;
using Engine.Tests.Support;

namespace Engine.Tests.Stages;

/// <summary>
/// Handlers may return <see cref="Task"/> as well as <see cref="ValueTask"/>: method groups such as
/// <c>SaveAsync</c> pass as they are (CS0407 before), lambdas that fit both still take the
/// <see cref="ValueTask"/> overloads, and that path allocates nothing per item.
/// </summary>
public class TaskHandlerTests
{
    private readonly ConcurrentQueue<string> _saved = new();

    [Test]
    public async Task A_stage_takes_a_method_group_that_returns_Task()
    {
        await using Stage<int> stage = Stage.Create(new StageOptions<int> { Name = "task-stage" }, SaveAsync);
        await using Stage<int> withContext = Stage.Create(new StageOptions<int> { Name = "task-context" }, SaveWithContextAsync);
        await stage.WriteAsync(1);
        await withContext.WriteAsync(2);
        stage.Complete();
        withContext.Complete();
        await Task.WhenAll(stage.Completion, withContext.Completion).Within();

        Assert.That(_saved, Is.EquivalentTo(new[] { "1", "2@1" }));
    }

    [Test]
    public async Task Every_pipeline_step_takes_a_method_group_that_returns_Task()
    {
        PipelineBuilder<int> builder = Pipeline.Create<int>("task-pipeline");
        PipelineTarget<string> target = builder.SinkTarget<string>("saved", SaveTextAsync);
        PipelineJunction<int, int, int> junction = builder.StageTarget<int, int>("doubled", DoubleAsync);
        builder
            .Then("enriched", EnrichAsync)
            .Then<string>("split", SplitAsync)
            .Broadcast(
                b => b.Sink("stored", SaveTextAsync),
                b => b.Sink("stored-with-context", SaveTextWithContextAsync),
                b => b.To(target),
                b => b.Then("numbers", ParseAsync).To(junction));
        junction.Output.Sink("sum", SaveNumberAsync);
        await using Pipeline<int> built = builder.Build();

        await built.WriteAsync(21);
        await built.CompleteAsync().Within();

        Assert.Multiple(() =>
        {
            Assert.That(_saved.Where(s => s.StartsWith("text:", StringComparison.Ordinal)), Is.EquivalentTo(new[] { "text:21", "text:21" }));
            Assert.That(_saved, Does.Contain("context:21@1"));
            Assert.That(_saved, Does.Contain("number:42"));
            Assert.That(built.GetCounts().IsConserved, Is.True);
        });
    }

    [Test]
    public async Task The_ValueTask_path_allocates_nothing_per_item_and_neither_does_a_Task_handler_that_completes_at_once()
    {
        var valueTaskProbe = new AllocationProbe();
        (double writer, double worker) valueTask = await AllocatedPerItemAsync(
            Stage.Create(new StageOptions<int> { Name = "alloc-valuetask", Capacity = 16_384 }, (int _, CancellationToken _) =>
            {
                valueTaskProbe.Mark();
                return default;
            }),
            valueTaskProbe);

        var taskProbe = new AllocationProbe();
        (double writer, double worker) task = await AllocatedPerItemAsync(
            Stage.Create(new StageOptions<int> { Name = "alloc-task", Capacity = 16_384 }, (int _, CancellationToken _) =>
            {
                taskProbe.Mark();
                return Task.CompletedTask;
            }),
            taskProbe);

        TestContext.Out.WriteLine(
            $"bytes allocated per item, the least of three runs of 200,000 items after a warm-up: ValueTask handler {valueTask.writer:F3} writing, {valueTask.worker:F3} running; " +
            $"Task handler {task.writer:F3} writing, {task.worker:F3} running");
        Assert.Multiple(() =>
        {
            // Under a byte per item: an allocation per item would be at least 24 bytes per item.
            Assert.That(valueTask.writer, Is.LessThan(1), "TryWrite allocates nothing per item");
            Assert.That(valueTask.worker, Is.LessThan(1), "a ValueTask handler's run, from one item to the next, allocates nothing per item");
            Assert.That(task.worker, Is.LessThan(1), "a Task that completes at once is wrapped without allocating");
        });
    }

    /// <summary>
    /// Bytes allocated per item on the writing thread (around the writes) and on the worker (from one
    /// handler call to the next on the same thread: the whole run path, settle, take and start of the
    /// next), each counted on its own thread so the rest of the process does not blur them. Items are
    /// written with <c>TryWrite</c> in rounds the stage drains before the next, so no write waits for
    /// room and the channel's buffer never grows past its warmed-up size.
    /// </summary>
    private static async Task<(double Writer, double Worker)> AllocatedPerItemAsync(Stage<int> stage, AllocationProbe probe)
    {
        await using Stage<int> _ = stage;
        const int Round = 10_000;
        const int Rounds = 20;
        long target = 0;
        long writerBytes = 0;
        Func<bool> drained = () => Volatile.Read(ref probe.Calls) >= target;
        void RunRound()
        {
            // The round's first run waits until every item of the round is in, so one worker loop
            // runs them all without exiting (an exiting loop's thread may run other work, other
            // tests' timers, before the next loop starts on it); gaps between rounds do not count.
            probe.Hold();
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < Round; i++)
            {
                if (!stage.TryWrite(i))
                {
                    Assert.Fail("the stage refused a write");
                }
            }

            writerBytes += GC.GetAllocatedBytesForCurrentThread() - before;
            probe.Release();
            target += Round;
            if (!SpinWait.SpinUntil(drained, TestWait.Patience))
            {
                Assert.Fail("the stage never drained a round");
            }
        }

        for (int warmUp = 0; warmUp < 5; warmUp++)
        {
            RunRound();
        }

        // The least of three measurements: an allocation per item shows in each, while what the
        // runtime allocates now and then on a worker thread (a loop starting again, tiering) does not.
        (double Writer, double Worker) least = (double.MaxValue, double.MaxValue);
        for (int measurement = 0; measurement < 3; measurement++)
        {
            writerBytes = 0;
            probe.Reset();
            for (int round = 0; round < Rounds; round++)
            {
                RunRound();
            }

            Assert.That(probe.Gaps, Is.GreaterThan(Round * Rounds / 2), "most consecutive runs were on one thread");
            least = (Math.Min(least.Writer, (double)writerBytes / (Round * Rounds)), Math.Min(least.Worker, (double)probe.Bytes / probe.Gaps));
        }

        return least;
    }

    /// <summary>Called by a handler: adds what its thread allocated since the previous call, when that was on the same thread.</summary>
    private sealed class AllocationProbe
    {
        public long Calls;
        public long Bytes;
        public long Gaps;
        private readonly ManualResetEventSlim _held = new(initialState: true);
        private long _last;
        private int _thread;
        private bool _holding;

        public void Mark()
        {
            if (Volatile.Read(ref _holding))
            {
                _held.Wait(TestWait.Patience);
                Volatile.Write(ref _holding, false);
            }

            long now = GC.GetAllocatedBytesForCurrentThread();
            int thread = Environment.CurrentManagedThreadId;
            if (thread == _thread)
            {
                Bytes += now - _last;
                Gaps++;
            }

            _thread = thread;
            _last = now;
            Interlocked.Increment(ref Calls);
        }

        public void Reset()
        {
            Bytes = 0;
            Gaps = 0;
            _thread = 0;
        }

        /// <summary>
        /// Called while the stage is idle, before the writes that wake it: the next call waits for
        /// <see cref="Release"/> and starts afresh (the gap before it is not counted).
        /// </summary>
        public void Hold()
        {
            _held.Reset();
            _thread = 0;
            Volatile.Write(ref _holding, true);
        }

        /// <summary>Lets the held call go on.</summary>
        public void Release() => _held.Set();
    }

    private Task SaveAsync(int item, CancellationToken cancellationToken)
    {
        _saved.Enqueue(item.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return Task.CompletedTask;
    }

    private async Task SaveWithContextAsync(int item, ItemContext context, CancellationToken cancellationToken)
    {
        await Task.Yield();
        _saved.Enqueue($"{item}@{context.Attempt}");
    }

    private static async Task<int> EnrichAsync(int item, CancellationToken cancellationToken)
    {
        await Task.Yield();
        return item;
    }

    private static Task SplitAsync(int item, Emit<string> emit, CancellationToken cancellationToken)
    {
        emit(item.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return Task.CompletedTask;
    }

    private static Task<int> ParseAsync(string text, CancellationToken cancellationToken) =>
        Task.FromResult(int.Parse(text, System.Globalization.CultureInfo.InvariantCulture));

    private static Task DoubleAsync(int item, Emit<int> emit, CancellationToken cancellationToken)
    {
        emit(item * 2);
        return Task.CompletedTask;
    }

    private Task SaveTextAsync(string text, CancellationToken cancellationToken)
    {
        _saved.Enqueue("text:" + text);
        return Task.CompletedTask;
    }

    private Task SaveTextWithContextAsync(string text, ItemContext context, CancellationToken cancellationToken)
    {
        _saved.Enqueue($"context:{text}@{context.Attempt}");
        return Task.CompletedTask;
    }

    private Task SaveNumberAsync(int number, CancellationToken cancellationToken)
    {
        _saved.Enqueue("number:" + number.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return Task.CompletedTask;
    }
}
