using System.Collections.Concurrent;
using Engine.Pipelines;
using Engine.Retry;
using Engine.Stages;
using Engine.Tests.Support;

namespace Engine.Tests.Pipelines;

/// <summary>Failure paths a review found wrong in an earlier shape of the pipeline.</summary>
public class PipelineRegressionTests
{
    [Test]
    public async Task A_refused_forward_dead_letters_the_input_and_never_retries_into_duplicate_outputs()
    {
        var seen = new ConcurrentQueue<string>();
        var failures = new ConcurrentQueue<ItemFailure>();
        var gate = new Gate();
        int first = 0;
        await using Pipeline<int> pipeline = Pipeline.Create<int>("dup")
            .Then<string>(
                "split",
                (i, emit, _) => { emit($"{i}a"); emit($"{i}b"); emit($"{i}c"); return default; },
                o =>
                {
                    o.Retry = new RetryOptions { MaxAttempts = 5, BaseDelay = TimeSpan.Zero, MaxDelay = TimeSpan.Zero };
                    o.OnDeadLetter = (_, failure) => failures.Enqueue(failure);
                })
            .Sink(
                "sink",
                async (s, ct) => { if (Interlocked.Exchange(ref first, 1) == 0) { await gate.PassAsync(ct); } seen.Enqueue(s); },
                o => { o.FullMode = StageFullMode.Reject; o.Capacity = 1; })
            .Build();

        await pipeline.WriteAsync(1);
        await gate.StartedAsync();
        await TestWait.UntilAsync(() => pipeline.GetCounts()["split"].DeadLettered == 1, "the input dead-lettered");
        gate.Open();
        await pipeline.CompleteAsync().Within();

        PipelineCounts counts = pipeline.GetCounts();
        Assert.Multiple(() =>
        {
            Assert.That(seen, Is.Unique, "no output was handed on twice");
            Assert.That(seen, Has.Count.EqualTo(counts["sink"].Processed));
            Assert.That(counts["split"].Retries, Is.Zero);
            Assert.That(failures.Single().Exception, Is.TypeOf<ForwardException>());
            Assert.That(((ForwardException)failures.Single().Exception).Downstream, Is.EqualTo("sink"));
            Assert.That(failures.Single().Exception.InnerException, Is.TypeOf<StageFullException>());
        });
    }

    [TestCase(true)]
    [TestCase(false)]
    public async Task Aborting_while_a_batch_is_blocked_on_a_full_downstream_cancels_rather_than_faults(bool declareTargetFirst)
    {
        var gate = new Gate();
        PipelineBuilder<int> builder = Pipeline.Create<int>("abort");
        Func<IReadOnlyList<int>, CancellationToken, ValueTask> sink = async (_, ct) => await gate.PassAsync(ct);
        Pipeline<int> pipeline;
        if (declareTargetFirst)
        {
            PipelineTarget<IReadOnlyList<int>> target = builder.SinkTarget("sink", sink, o => o.Capacity = 1);
            builder.Batch("batch", 1).To(target);
            pipeline = builder.Build();
        }
        else
        {
            pipeline = builder.Batch("batch", 1).Sink("sink", sink, o => o.Capacity = 1).Build();
        }

        await using (pipeline)
        {
            for (int i = 0; i < 5; i++)
            {
                await pipeline.WriteAsync(i);
            }

            await gate.StartedAsync();
            await TestWait.UntilAsync(() => pipeline.GetCounts()["batch"].Waiting >= 1 && pipeline.GetCounts()["sink"].Waiting >= 1, "the batch blocked on the sink");
            PipelineCounts counts = await pipeline.AbortAsync().Within();
            Assert.Multiple(() =>
            {
                Assert.That(async () => await pipeline.Completion, Throws.InstanceOf<OperationCanceledException>());
                Assert.That(counts.IsConserved, Is.True, counts.ToString());
            });
        }
    }

    [Test]
    public async Task An_item_whose_forward_is_stopped_by_an_abort_is_abandoned_not_dead_lettered()
    {
        var gate = new Gate();
        int deadLetters = 0;
        PipelineBuilder<int> builder = Pipeline.Create<int>("abort2");
        PipelineTarget<int> target = builder.SinkTarget<int>("sink", async (_, ct) => await gate.PassAsync(ct), o => o.Capacity = 1);
        builder.Then<int>("up", (i, _) => ValueTask.FromResult(i), o => o.OnDeadLetter = (_, _) => Interlocked.Increment(ref deadLetters)).To(target);
        await using Pipeline<int> pipeline = builder.Build();
        for (int i = 0; i < 4; i++)
        {
            await pipeline.WriteAsync(i);
        }

        await gate.StartedAsync();
        await TestWait.UntilAsync(() => pipeline.GetCounts()["up"].InFlight >= 1, "up blocked forwarding");
        PipelineCounts counts = await pipeline.AbortAsync().Within();
        Assert.Multiple(() =>
        {
            Assert.That(deadLetters, Is.Zero);
            Assert.That(counts["up"].DeadLettered, Is.Zero);
            Assert.That(counts["up"].Abandoned, Is.GreaterThanOrEqualTo(1));
            Assert.That(counts.IsConserved, Is.True, counts.ToString());
        });
    }
}
