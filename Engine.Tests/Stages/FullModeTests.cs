using System.Collections.Concurrent;
using Engine.Stages;
using Engine.Tests.Support;

namespace Engine.Tests.Stages;

/// <summary>
/// One shard of capacity 2 with one worker held in its handler by a gate: item 0 is in the handler,
/// items 1 and 2 fill the channel, and item 3 meets the full mode.
/// </summary>
public class FullModeTests
{
    private sealed class Harness : IAsyncDisposable
    {
        public Gate Gate { get; } = new();

        public ConcurrentQueue<int> Processed { get; } = new();

        public ConcurrentQueue<(int Item, DropReason Reason)> Dropped { get; } = new();

        public Stage<int> Stage { get; }

        public Harness(StageFullMode mode)
        {
            Stage = Engine.Stages.Stage.Create(
                new StageOptions<int>
                {
                    Name = "full-" + mode,
                    Shards = 1,
                    Capacity = 2,
                    FullMode = mode,
                    KeySelector = i => i,
                    OnDropped = (item, reason) => Dropped.Enqueue((item, reason)),
                },
                async (item, ct) =>
                {
                    if (item == 0)
                    {
                        await Gate.PassAsync(ct);
                    }

                    Processed.Enqueue(item);
                });
        }

        public async Task FillAsync()
        {
            Assert.That(Stage.TryWrite(0), Is.True);
            await Gate.StartedAsync();
            Assert.Multiple(() =>
            {
                Assert.That(Stage.TryWrite(1), Is.True);
                Assert.That(Stage.TryWrite(2), Is.True);
            });
            Assert.That(Stage.GetShardCounts(0).Waiting, Is.EqualTo(2));
        }

        public async Task<StageCounts> DrainAsync()
        {
            Gate.Open();
            Stage.Complete();
            await Stage.Completion.Within();
            StageCounts counts = Stage.GetCounts();
            Assert.That(counts.IsConserved, Is.True, counts.ToString());
            Assert.That(counts.Pending, Is.Zero);
            return counts;
        }

        public ValueTask DisposeAsync() => Stage.DisposeAsync();
    }

    [Test]
    public async Task Wait_mode_TryWrite_refuses_and_WriteAsync_waits_for_room()
    {
        await using var h = new Harness(StageFullMode.Wait);
        await h.FillAsync();

        Assert.That(h.Stage.TryWrite(3), Is.False);
        ValueTask write = h.Stage.WriteAsync(3);
        Assert.That(write.IsCompleted, Is.False, "a write to a full shard waits");

        h.Gate.Open();
        await write.Within();
        StageCounts counts = await h.DrainAsync();
        Assert.Multiple(() =>
        {
            Assert.That(h.Processed, Is.EqualTo(new[] { 0, 1, 2, 3 }));
            Assert.That(counts.Accepted, Is.EqualTo(4));
            Assert.That(counts.Refused, Is.EqualTo(1));
            Assert.That(counts.Dropped, Is.Zero);
            Assert.That(h.Dropped, Is.Empty);
        });
    }

    [Test]
    public async Task Wait_mode_write_cancelled_while_waiting_is_not_accepted()
    {
        await using var h = new Harness(StageFullMode.Wait);
        await h.FillAsync();

        using var cancel = new CancellationTokenSource();
        ValueTask write = h.Stage.WriteAsync(3, cancel.Token);
        await cancel.CancelAsync();
        Assert.That(async () => await write, Throws.InstanceOf<OperationCanceledException>());

        StageCounts counts = await h.DrainAsync();
        Assert.Multiple(() =>
        {
            Assert.That(h.Processed, Is.EqualTo(new[] { 0, 1, 2 }));
            Assert.That(counts.Accepted, Is.EqualTo(3));
        });
    }

    [Test]
    public async Task DropOldest_evicts_the_oldest_waiting_item_counts_it_and_reports_it()
    {
        await using var h = new Harness(StageFullMode.DropOldest);
        await h.FillAsync();

        Assert.That(h.Stage.TryWrite(3), Is.True);
        await h.Stage.WriteAsync(4);

        StageCounts counts = await h.DrainAsync();
        Assert.Multiple(() =>
        {
            Assert.That(h.Processed, Is.EqualTo(new[] { 0, 3, 4 }));
            Assert.That(h.Dropped, Is.EqualTo(new[] { (1, DropReason.DropOldest), (2, DropReason.DropOldest) }));
            Assert.That(counts.DroppedOldest, Is.EqualTo(2));
            Assert.That(counts.Accepted, Is.EqualTo(5));
        });
    }

    [Test]
    public async Task DropNewest_evicts_the_newest_waiting_item_counts_it_and_reports_it()
    {
        await using var h = new Harness(StageFullMode.DropNewest);
        await h.FillAsync();

        Assert.That(h.Stage.TryWrite(3), Is.True);
        await h.Stage.WriteAsync(4);

        StageCounts counts = await h.DrainAsync();
        Assert.Multiple(() =>
        {
            Assert.That(h.Processed, Is.EqualTo(new[] { 0, 1, 4 }));
            Assert.That(h.Dropped, Is.EqualTo(new[] { (2, DropReason.DropNewest), (3, DropReason.DropNewest) }));
            Assert.That(counts.DroppedNewest, Is.EqualTo(2));
            Assert.That(counts.Accepted, Is.EqualTo(5));
        });
    }

    [Test]
    public async Task DropWrite_drops_the_incoming_item_and_TryWrite_says_so()
    {
        await using var h = new Harness(StageFullMode.DropWrite);
        await h.FillAsync();

        Assert.That(h.Stage.TryWrite(3), Is.False, "TryWrite never answers true for an item that is gone");
        await h.Stage.WriteAsync(4);

        StageCounts counts = await h.DrainAsync();
        Assert.Multiple(() =>
        {
            Assert.That(h.Processed, Is.EqualTo(new[] { 0, 1, 2 }));
            Assert.That(h.Dropped, Is.EqualTo(new[] { (3, DropReason.DropWrite), (4, DropReason.DropWrite) }));
            Assert.That(counts.DroppedWrite, Is.EqualTo(2));
            Assert.That(counts.Accepted, Is.EqualTo(5));
        });
    }

    [Test]
    public async Task Reject_refuses_the_item_and_WriteAsync_throws_naming_the_stage()
    {
        await using var h = new Harness(StageFullMode.Reject);
        await h.FillAsync();

        Assert.That(h.Stage.TryWrite(3), Is.False);
        var error = Assert.ThrowsAsync<StageFullException>(async () => await h.Stage.WriteAsync(4));
        Assert.That(error!.Message, Does.Contain("full-Reject"));

        StageCounts counts = await h.DrainAsync();
        Assert.Multiple(() =>
        {
            Assert.That(h.Processed, Is.EqualTo(new[] { 0, 1, 2 }));
            Assert.That(h.Dropped, Is.Empty);
            Assert.That(counts.Refused, Is.EqualTo(2));
            Assert.That(counts.Accepted, Is.EqualTo(3));
        });
    }

    [Test]
    public async Task A_throwing_OnDropped_callback_is_counted_and_the_stage_goes_on()
    {
        int calls = 0;
        var gate = new Gate();
        await using var stage = Stage.Create(
            new StageOptions<int>
            {
                Name = "s",
                Shards = 1,
                Capacity = 1,
                FullMode = StageFullMode.DropOldest,
                KeySelector = i => i,
                OnDropped = (_, _) => { calls++; throw new InvalidOperationException("callback bug"); },
            },
            async (item, ct) => { if (item == 0) { await gate.PassAsync(ct); } });

        stage.TryWrite(0);
        await gate.StartedAsync();
        stage.TryWrite(1);
        stage.TryWrite(2);
        gate.Open();
        stage.Complete();
        await stage.Completion.Within();

        StageCounts counts = stage.GetCounts();
        Assert.Multiple(() =>
        {
            Assert.That(calls, Is.EqualTo(1));
            Assert.That(counts.CallbackErrors, Is.EqualTo(1));
            Assert.That(counts.Processed, Is.EqualTo(2));
            Assert.That(counts.DroppedOldest, Is.EqualTo(1));
        });
    }
}
