using System.Collections.Concurrent;
using Engine.Retry;
using Engine.Stages;
using Engine.Tests.Support;

namespace Engine.Tests.Stages;

public class LifecycleTests
{
    [Test]
    public async Task Completion_waits_for_queued_and_in_flight_items()
    {
        var gate = new Gate();
        var processed = new ConcurrentQueue<int>();
        await using var stage = Stage.Create(
            new StageOptions<int> { Name = "s", Shards = 1, KeySelector = i => i },
            async (item, ct) =>
            {
                if (item == 0)
                {
                    await gate.PassAsync(ct);
                }

                processed.Enqueue(item);
            });

        await stage.WriteAsync(0);
        await gate.StartedAsync();
        await stage.WriteAsync(1);
        await stage.WriteAsync(2);
        stage.Complete();
        Assert.That(stage.Completion.IsCompleted, Is.False);

        gate.Open();
        await stage.Completion.Within();
        Assert.That(processed, Is.EqualTo(new[] { 0, 1, 2 }));
    }

    [Test]
    public async Task Completion_waits_for_a_scheduled_retry()
    {
        var time = new WatchedTimeProvider();
        int runs = 0;
        await using var stage = Stage.Create(
            new StageOptions<int> { Name = "s", KeySelector = i => i, TimeProvider = time, Retry = new RetryOptions { BaseDelay = TimeSpan.FromSeconds(5), JitterRatio = 0 } },
            (int _, CancellationToken _) =>
            {
                if (Interlocked.Increment(ref runs) == 1)
                {
                    throw new TimeoutException();
                }
            });

        await stage.WriteAsync(7);
        await time.NextTimerAsync();
        stage.Complete();
        Assert.That(stage.Completion.IsCompleted, Is.False, "the retry is still owed");

        time.Advance(TimeSpan.FromSeconds(5));
        await stage.Completion.Within();
        StageCounts counts = stage.GetCounts();
        Assert.Multiple(() =>
        {
            Assert.That(counts.Processed, Is.EqualTo(1));
            Assert.That(counts.Retries, Is.EqualTo(1));
            Assert.That(counts.IsConserved, Is.True);
        });
    }

    [Test]
    public async Task Writing_after_complete_fails_naming_the_stage_and_counts_a_refusal()
    {
        await using var stage = Stage.Create(new StageOptions<int> { Name = "ingest" }, (int _, CancellationToken _) => { });
        stage.Complete();
        var error = Assert.ThrowsAsync<StageCompletedException>(async () => await stage.WriteAsync(1));
        Assert.Multiple(() =>
        {
            Assert.That(error!.Message, Does.Contain("ingest"));
            Assert.That(stage.TryWrite(2), Is.False);
        });
        await stage.Completion.Within();
        Assert.Multiple(() =>
        {
            Assert.That(stage.GetCounts().Refused, Is.EqualTo(2));
            Assert.That(stage.GetCounts().Accepted, Is.Zero);
        });
    }

    [Test]
    public async Task A_write_waiting_for_room_fails_when_the_stage_completes()
    {
        var gate = new Gate();
        await using var stage = Stage.Create(
            new StageOptions<int> { Name = "s", Shards = 1, Capacity = 1, KeySelector = i => i },
            async (item, ct) => await gate.PassAsync(ct));
        await stage.WriteAsync(0);
        await gate.StartedAsync();
        await stage.WriteAsync(1);
        ValueTask blocked = stage.WriteAsync(2);

        stage.Complete();
        Assert.That(async () => await blocked, Throws.TypeOf<StageCompletedException>());
        gate.Open();
        await stage.Completion.Within();
        StageCounts counts = stage.GetCounts();
        Assert.Multiple(() =>
        {
            Assert.That(counts.Processed, Is.EqualTo(2));
            Assert.That(counts.Refused, Is.EqualTo(1));
            Assert.That(counts.IsConserved, Is.True);
        });
    }

    [Test]
    public async Task StopAsync_drains_within_the_timeout_then_aborts_and_reports_the_abandoned()
    {
        var time = new WatchedTimeProvider();
        var gate = new Gate();
        await using var stage = Stage.Create(
            new StageOptions<int> { Name = "s", Shards = 1, KeySelector = i => i, TimeProvider = time },
            async (_, ct) => await gate.PassAsync(ct));

        for (int i = 0; i < 5; i++)
        {
            await stage.WriteAsync(i);
        }

        await gate.StartedAsync();
        ValueTask<StageCounts> stop = stage.StopAsync(TimeSpan.FromSeconds(10));
        Assert.That(await time.NextTimerAsync(), Is.EqualTo(TimeSpan.FromSeconds(10)));
        Assert.That(stop.IsCompleted, Is.False, "still draining");

        time.Advance(TimeSpan.FromSeconds(10));
        StageCounts counts = await stop.Within();
        Assert.Multiple(() =>
        {
            Assert.That(counts.Abandoned, Is.EqualTo(5), "one cancelled in its handler, four waiting");
            Assert.That(counts.Processed, Is.Zero);
            Assert.That(counts.IsConserved, Is.True);
            Assert.That(counts.Pending, Is.Zero);
            Assert.That(stage.Completion.IsCanceled, Is.True);
        });
    }

    [Test]
    public async Task StopAsync_returns_when_drained_before_the_timeout()
    {
        var gate = new Gate();
        await using var stage = Stage.Create(
            new StageOptions<int> { Name = "s", KeySelector = i => i },
            async (_, ct) => await gate.PassAsync(ct));
        await stage.WriteAsync(1);
        await gate.StartedAsync();
        ValueTask<StageCounts> stop = stage.StopAsync(Timeout.InfiniteTimeSpan);
        gate.Open();
        StageCounts counts = await stop.Within();
        Assert.Multiple(() =>
        {
            Assert.That(counts.Processed, Is.EqualTo(1));
            Assert.That(counts.Abandoned, Is.Zero);
            Assert.That(stage.Completion.IsCompletedSuccessfully, Is.True);
        });
    }

    [Test]
    public async Task Abort_abandons_parked_items_and_pending_retries_and_joins_running_handlers()
    {
        var time = new WatchedTimeProvider();
        var gate = new Gate();
        await using var stage = Stage.Create(
            new StageOptions<string>
            {
                Name = "s",
                Shards = 1,
                WorkersPerShard = 2,
                KeySelector = s => s[..1],
                TimeProvider = time,
                Retry = new RetryOptions { BaseDelay = TimeSpan.FromMinutes(1), MaxDelay = TimeSpan.FromMinutes(1) },
            },
            async (item, ct) =>
            {
                if (item == "r1")
                {
                    throw new TimeoutException();
                }

                await gate.PassAsync(ct);
            });

        await stage.WriteAsync("r1");
        await time.NextTimerAsync();
        await stage.WriteAsync("r2");
        await stage.WriteAsync("a1");
        await gate.StartedAsync();
        await stage.WriteAsync("a2");
        await stage.WriteAsync("a3");

        StageCounts counts = await stage.AbortAsync().Within();
        Assert.Multiple(() =>
        {
            Assert.That(counts.Accepted, Is.EqualTo(5));
            Assert.That(counts.Abandoned, Is.EqualTo(5));
            Assert.That(counts.InFlight, Is.Zero);
            Assert.That(counts.Waiting, Is.Zero);
            Assert.That(counts.IsConserved, Is.True);
        });

        time.Advance(TimeSpan.FromMinutes(5));
        Assert.That(stage.GetCounts(), Is.EqualTo(counts), "a cancelled retry never runs");
    }

    [Test]
    public async Task Complete_stop_abort_and_dispose_are_idempotent()
    {
        var stage = Stage.Create(new StageOptions<int> { Name = "s" }, (int _, CancellationToken _) => { });
        await stage.WriteAsync(1);
        stage.Complete();
        stage.Complete();
        await stage.Completion.Within();
        StageCounts first = await stage.StopAsync(TimeSpan.Zero);
        StageCounts second = await stage.AbortAsync();
        await stage.DisposeAsync();
        await stage.DisposeAsync();
        Assert.Multiple(() =>
        {
            Assert.That(first, Is.EqualTo(second));
            Assert.That(first.Processed, Is.EqualTo(1));
            Assert.That(stage.Completion.IsCompletedSuccessfully, Is.True);
        });
    }

    [Test]
    public async Task A_throwing_handler_never_stops_its_worker()
    {
        var processed = new ConcurrentQueue<int>();
        var deadLetters = new ConcurrentQueue<int>();
        await using var stage = Stage.Create(
            new StageOptions<int> { Name = "s", Shards = 1, KeySelector = i => i % 3, OnDeadLetter = (i, _) => deadLetters.Enqueue(i) },
            (int item, CancellationToken _) =>
            {
                if (item % 2 == 0)
                {
                    throw new InvalidOperationException("even");
                }

                processed.Enqueue(item);
            });

        for (int i = 0; i < 100; i++)
        {
            await stage.WriteAsync(i);
        }

        stage.Complete();
        await stage.Completion.Within();
        Assert.Multiple(() =>
        {
            Assert.That(processed, Has.Count.EqualTo(50));
            Assert.That(deadLetters, Has.Count.EqualTo(50));
            Assert.That(stage.GetCounts().HandlerErrors, Is.EqualTo(50));
        });
    }

    [Test]
    public async Task Items_without_a_key_go_to_the_unkeyed_shard()
    {
        var processed = new ConcurrentQueue<string?>();
        await using var stage = Stage.Create(
            new StageOptions<string?> { Name = "s", Shards = 3, UnkeyedWorkers = 2, KeySelector = s => s },
            (string? s, CancellationToken _) => processed.Enqueue(s));
        await stage.WriteAsync(null);
        await stage.WriteAsync("");
        await stage.WriteAsync("k");
        stage.Complete();
        await stage.Completion.Within();
        Assert.Multiple(() =>
        {
            Assert.That(stage.GetShardCounts(3).Processed, Is.EqualTo(2));
            Assert.That(stage.GetShardCounts(stage.ShardOf("k")).Processed, Is.EqualTo(1));
            Assert.That(stage.ShardOf("k"), Is.EqualTo((int)(Engine.Routing.Fnv1a.Hash32("k") % 3)));
            Assert.That(processed, Has.Count.EqualTo(3));
        });
    }

    [Test]
    public async Task Batch_writes_accept_every_item_in_order()
    {
        var processed = new ConcurrentQueue<int>();
        await using var stage = Stage.Create(new StageOptions<int> { Name = "s", Shards = 1, KeySelector = _ => "one" }, (int i, CancellationToken _) => processed.Enqueue(i));
        int written = await stage.WriteManyAsync(Enumerable.Range(0, 5000));
        stage.Complete();
        await stage.Completion.Within();
        Assert.Multiple(() =>
        {
            Assert.That(written, Is.EqualTo(5000));
            Assert.That(processed, Is.EqualTo(Enumerable.Range(0, 5000)));
        });
    }
}
