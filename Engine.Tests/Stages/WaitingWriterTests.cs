using Engine.Metrics;
using Engine.Pipelines;
using Engine.Stages;
using Engine.Tests.Support;

namespace Engine.Tests.Stages;

/// <summary>
/// Writers that wait for room, and the figures around them. Found in review of the cancellation fix
/// (writes that wait now wait with the token and write without it): each failed on that code before
/// its own fix.
/// </summary>
public class WaitingWriterTests
{
    [Test]
    public async Task A_writer_waiting_for_room_is_not_pending()
    {
        var gate = new Gate();
        await using var stage = Stage.Create(
            new StageOptions<int> { Name = "pending", Shards = 1, WorkersPerShard = 1, Capacity = 1, KeySelector = i => i },
            async (_, ct) => await gate.PassAsync(ct));

        await stage.WriteAsync(1);
        await gate.StartedAsync();
        await stage.WriteAsync(2);
        Task waiting = stage.WriteAsync(3).AsTask();
        await TestWait.UntilAsync(() => stage.Describe().Contains("blocked=1", StringComparison.Ordinal), "the third write waiting for room");

        StageCounts counts = stage.GetCounts();
        gate.Open();
        await waiting.Within();
        Assert.Multiple(() =>
        {
            Assert.That(counts.Accepted, Is.EqualTo(2));
            Assert.That(counts.Pending, Is.EqualTo(2), "the waiting write is not accepted yet (it counted twice before)");
            Assert.That(counts.IsConserved, Is.True, counts.ToString());
        });
    }

    /// <summary>
    /// A write that waits for room allocates nothing once warmed: its async steps (the stage's, the
    /// shard's and the channel write's) come from pooled boxes. Counted on the writing thread, where a
    /// waiting write allocates its state when it first waits; each write is seen to wait before the
    /// worker is let on.
    /// </summary>
    [Test]
    public async Task A_write_that_waits_for_room_allocates_nothing_once_warmed()
    {
        const int Warmup = 64;
        const int Measured = 256;
        using var runs = new SemaphoreSlim(0);
        await using var stage = Stage.Create(
            new StageOptions<int> { Name = "waiting-alloc", Shards = 1, WorkersPerShard = 1, Capacity = 1, KeySelector = _ => "k" },
            async (_, ct) => await runs.WaitAsync(ct));

        // One item in the handler, one in the channel: every further write waits.
        await stage.WriteAsync(0);
        await stage.WriteAsync(1);
        long allocated = 0;
        int waited = 0;

        // A writing loop as users write one: each write awaited where it was made, so the thread that
        // resumes it makes the next one and its pooled boxes are at hand. Within() guards the loop.
        async Task WriteAllAsync()
        {
            for (int i = 2; i < 2 + Warmup + Measured; i++)
            {
                long before = GC.GetAllocatedBytesForCurrentThread();
                ValueTask write = stage.WriteAsync(i);
                long after = GC.GetAllocatedBytesForCurrentThread();
                if (!write.IsCompleted)
                {
                    waited++;
                }

                if (i >= 2 + Warmup)
                {
                    allocated += after - before;
                }

                runs.Release();
                await write;
            }
        }

        await WriteAllAsync().Within();
        runs.Release(2);
        StageCounts counts = await stage.StopAsync(Timeout.InfiniteTimeSpan).Within();
        Assert.Multiple(() =>
        {
            Assert.That(waited, Is.EqualTo(Warmup + Measured), "every write found the shard full and waited");
            Assert.That(allocated, Is.Zero, $"bytes allocated on the writing thread by {Measured} waiting writes");
            Assert.That(counts.Processed, Is.EqualTo(2 + Warmup + Measured));
        });
    }

    [Test]
    public async Task Every_first_run_counts_in_the_queue_wait_even_one_accepted_after_the_previous_run_ended()
    {
        var time = new WatchedTimeProvider();
        Stage<int>? stage = null;
        stage = Stage.Create(
            new StageOptions<int>
            {
                Name = "wait-count",
                Shards = 1,

                // Every item's queue wait is checked: none is left out by sampling.
                LatencySampling = 1,
                Capacity = 8,
                TimeProvider = time,
                KeySelector = i => i,

                // Runs after item 1's run ended (its end read): item 2 is accepted 5 ms later, and its
                // run, which starts at item 1's end, precedes its accept.
                KindSelector = i =>
                {
                    if (i == 1)
                    {
                        time.Advance(TimeSpan.FromMilliseconds(5));
                        stage!.TryWrite(2);
                    }

                    return "k";
                },
            },
            (Action<int, CancellationToken>)((_, _) => { }));

        Assert.That(stage.TryWrite(1), Is.True);
        await TestWait.UntilAsync(() => stage.GetCounts().Processed == 2, "both items processed");
        StageMetricsSnapshot snapshot = stage.TakeMetricsSnapshot();
        Assert.Multiple(() =>
        {
            Assert.That(snapshot.WorkDuration.Count, Is.EqualTo(2));
            Assert.That(snapshot.QueueWait.Count, Is.EqualTo(2), "both items ran a first attempt");
        });
        await stage.DisposeAsync();
    }

    [Test]
    public async Task A_batch_node_counts_a_write_accepted_only_once_its_item_is_in()
    {
        var gate = new Gate();
        await using Pipeline<int> pipeline = Pipeline.Create<int>("batch-accepted")
            .Then<int>("up", (i, _) => ValueTask.FromResult(i))
            .Batch("batch", size: 1, capacity: 1)
            .Sink("sink", async (IReadOnlyList<int> _, CancellationToken ct) => await gate.PassAsync(ct), o => o.Capacity = 1)
            .Build();
        for (int i = 0; i < 5; i++)
        {
            await pipeline.WriteAsync(i);
        }

        await gate.StartedAsync();
        await TestWait.UntilAsync(
            () => pipeline.GetCounts() is var counts && counts["batch"].Accepted >= 4 && counts["up"].InFlight == 1,
            "items 0..3 in the batch stage and item 4 forwarding into it");
        StageCounts before = pipeline.GetCounts()["batch"];
        PipelineCounts after = await pipeline.AbortAsync().Within();
        Assert.Multiple(() =>
        {
            Assert.That(before.Accepted, Is.EqualTo(4), "items 0..3 are in; item 4's write still waits");
            Assert.That(after["batch"].Accepted, Is.EqualTo(4), "a cumulative counter never steps back");
            Assert.That(after.IsConserved, Is.True, after.ToString());
        });
    }
}
