using System.Collections.Concurrent;
using Engine.Metrics;
using Engine.Retry;
using Engine.Stages;
using Engine.Tests.Support;

namespace Engine.Tests.Stages;

/// <summary>
/// <see cref="Stage{T}.WriteManyAsync"/> writes in groups (one clock read, and per shard one count
/// of each kind, per group): every item is still accepted in order with a single write's rules, an
/// item that does not go in at once is written alone, and what fails ends the call after the items
/// before it.
/// </summary>
public class WriteManyTests
{
    private static readonly int GroupSize = Stage<int>.WriteGroupSize;

    /// <summary>A failure here falls inside a call's second group, past the first group's writes.</summary>
    private static readonly int GroupSizeAndAHalf = GroupSize * 3 / 2;

    [Test]
    public async Task Randomized_groups_keep_every_item_and_each_keys_order_with_exact_counts(
        [Values(1, 4, 16)] int shards,
        [Values(1, 3, 1024)] int capacity,
        [Values(1, 2)] int workers,
        [Values(11, 12)] int seed)
    {
        const int Items = 3000;
        var random = new Random(seed);
        int keys = random.Next(1, 40);
        var seen = new ConcurrentDictionary<int, ConcurrentQueue<int>>();
        var failedOnce = new ConcurrentDictionary<int, bool>();
        var failing = new HashSet<int>(Enumerable.Range(0, Items).Where(_ => random.Next(10) == 0));
        await using Stage<int> stage = Stage.Create(
            new StageOptions<int>
            {
                Name = "many",
                Shards = shards,
                Capacity = capacity,
                WorkersPerShard = workers,
                KeySelector = i => i % keys,
                Retry = new RetryOptions { MaxAttempts = 2, BaseDelay = TimeSpan.Zero },
            },
            (int item, CancellationToken _) =>
            {
                if (failing.Contains(item) && failedOnce.TryAdd(item, true))
                {
                    throw new TimeoutException("transient");
                }

                seen.GetOrAdd(item % keys, _ => new ConcurrentQueue<int>()).Enqueue(item);
            });

        // Several calls of random lengths, so groups start and end at every offset.
        int written = 0;
        int next = 0;
        while (next < Items)
        {
            int length = Math.Min(Items - next, random.Next(1, 3 * GroupSize));
            written += await stage.WriteManyAsync(Enumerable.Range(next, length)).Within();
            next += length;
        }

        stage.Complete();
        await stage.Completion.Within();
        StageCounts counts = stage.GetCounts();
        Assert.Multiple(() =>
        {
            Assert.That(written, Is.EqualTo(Items));
            Assert.That(counts.Accepted, Is.EqualTo(Items));
            Assert.That(counts.Processed, Is.EqualTo(Items));
            Assert.That(counts.IsConserved && counts.Pending == 0, Is.True, counts.ToString());
            foreach ((int key, ConcurrentQueue<int> order) in seen)
            {
                Assert.That(order, Is.Ordered, $"key {key} kept its order");
            }

            Assert.That(seen.Values.Sum(q => q.Count), Is.EqualTo(Items));
        });
    }

    /// <summary>
    /// Four writers make calls of random lengths over their own ids into small shards with failing
    /// handlers, a third of them with a token cancelled by another thread as the call runs, and the
    /// stage is aborted or completed at a random moment. Whatever a call's end: every id is handled at
    /// most once; a call that returned had every item accepted; a call that threw had a prefix of its
    /// items accepted (it writes in order and stops at the first failure); the counts balance.
    /// </summary>
    [Test]
    public async Task Cancelled_calls_and_an_abort_racing_them_leave_prefixes_and_balanced_counts([Values(1, 2, 3, 4, 5, 6)] int seed, [Values] bool abort)
    {
        const int Writers = 4;
        const int PerWriter = 6000;
        var handled = new int[Writers * PerWriter];
        var failedOnce = new int[Writers * PerWriter];
        var stage = Stage.Create(
            new StageOptions<int>
            {
                Name = "many-torture",
                Shards = 2,
                WorkersPerShard = 2,
                Capacity = 2,
                KeySelector = id => id % 37,
                Retry = new RetryOptions { MaxAttempts = 2, BaseDelay = TimeSpan.Zero },
            },
            (int id, CancellationToken _) =>
            {
                if (id % 11 == 0 && Interlocked.Exchange(ref failedOnce[id], 1) == 0)
                {
                    throw new TimeoutException("transient");
                }

                Interlocked.Increment(ref handled[id]);
            });

        var calls = new ConcurrentQueue<(int From, int Length, bool Returned)>();
        var halfway = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Task[] writers = Enumerable.Range(0, Writers).Select(w => Task.Run(async () =>
        {
            var random = new Random((seed * 100) + w);
            int next = w * PerWriter;
            int end = next + PerWriter;
            while (next < end)
            {
                int length = Math.Min(end - next, random.Next(1, 150));
                using var cancel = new CancellationTokenSource();
                Task canceller = random.Next(3) == 0 ? Task.Run(cancel.Cancel) : Task.CompletedTask;
                bool returned;
                try
                {
                    int written = await stage.WriteManyAsync(Enumerable.Range(next, length), cancel.Token);
                    Assert.That(written, Is.EqualTo(length));
                    returned = true;
                }
                catch (Exception ex) when (ex is OperationCanceledException or StageCompletedException)
                {
                    returned = false;
                }

                await canceller;
                calls.Enqueue((next, length, returned));
                next += length;
                if (next - (w * PerWriter) >= PerWriter / 2)
                {
                    halfway.TrySetResult();
                }
            }
        })).ToArray();

        await halfway.Task.Within();
        StageCounts counts = abort ? await stage.AbortAsync().AsTask().Within() : default;
        await Task.WhenAll(writers).Within();
        if (!abort)
        {
            stage.Complete();
            await stage.Completion.Within();
        }

        counts = stage.GetCounts();
        await stage.DisposeAsync();
        Assert.Multiple(() =>
        {
            Assert.That(handled.All(h => h <= 1), Is.True, "no item handled twice");
            foreach ((int from, int length, bool returned) in calls)
            {
                int[] mine = handled.AsSpan(from, length).ToArray();
                if (returned && !abort)
                {
                    Assert.That(mine, Is.All.EqualTo(1), $"the call of {length} from {from} returned: every item ran");
                }
                else if (!abort)
                {
                    int ran = mine.TakeWhile(h => h == 1).Count();
                    Assert.That(mine.Skip(ran), Is.All.EqualTo(0), $"the call of {length} from {from} threw: what ran is a prefix");
                }
            }

            Assert.That(counts.IsConserved && counts.Pending == 0, Is.True, counts.ToString());
            Assert.That(counts.Processed, Is.EqualTo(handled.Sum()), "processed is what the handlers saw");
            Assert.That(counts.Accepted, Is.EqualTo(counts.Processed + counts.DeadLettered + counts.Abandoned), counts.ToString());
        });
    }

    [Test]
    public async Task Concurrent_calls_each_keep_their_keys_order()
    {
        const int PerWriter = 5000;
        var seen = new ConcurrentDictionary<int, ConcurrentQueue<int>>();
        await using Stage<int> stage = Stage.Create(
            new StageOptions<int> { Name = "many", Shards = 4, Capacity = 16, KeySelector = i => i % 50 },
            (int item, CancellationToken _) => seen.GetOrAdd(item % 50, _ => new ConcurrentQueue<int>()).Enqueue(item));

        // Writer w writes the keys congruent to w modulo 2, so each key has one writer and one order.
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Task<int>[] writers = Enumerable.Range(0, 2).Select(w => Task.Run(async () =>
        {
            await start.Task;
            return await stage.WriteManyAsync(Enumerable.Range(0, PerWriter).Select(i => (i * 2) + w));
        })).ToArray();
        start.SetResult();
        int[] written = await Task.WhenAll(writers).Within();
        stage.Complete();
        await stage.Completion.Within();
        StageCounts counts = stage.GetCounts();
        Assert.Multiple(() =>
        {
            Assert.That(written, Is.EqualTo(new[] { PerWriter, PerWriter }));
            Assert.That(counts.Accepted, Is.EqualTo(2 * PerWriter));
            Assert.That(counts.IsConserved && counts.Pending == 0, Is.True, counts.ToString());
            Assert.That(seen.Values.All(q => q.SequenceEqual(q.Order())), Is.True, "every key kept its order");
        });
    }

    [Test]
    public async Task A_throwing_key_selector_ends_the_call_after_the_items_before_it()
    {
        int bad = GroupSizeAndAHalf;
        var processed = new ConcurrentQueue<int>();
        await using Stage<int> stage = Stage.Create(
            new StageOptions<int> { Name = "many", Shards = 2, KeySelector = i => i == bad ? throw new FormatException("bad key") : i },
            (int item, CancellationToken _) => processed.Enqueue(item));

        ArgumentException? error = Assert.ThrowsAsync<ArgumentException>(async () => await stage.WriteManyAsync(Enumerable.Range(0, 200)));
        stage.Complete();
        await stage.Completion.Within();
        StageCounts counts = stage.GetCounts();
        Assert.Multiple(() =>
        {
            Assert.That(error!.InnerException, Is.TypeOf<FormatException>());
            Assert.That(processed.Order(), Is.EqualTo(Enumerable.Range(0, bad)), "exactly the items before the bad one");
            Assert.That(counts.Accepted, Is.EqualTo(bad));
            Assert.That(counts.Refused, Is.EqualTo(1));
            Assert.That(counts.IsConserved && counts.Pending == 0, Is.True, counts.ToString());
        });
    }

    [Test]
    public async Task A_throwing_enumerator_ends_the_call_after_the_items_before_it()
    {
        var processed = new ConcurrentQueue<int>();
        await using Stage<int> stage = Stage.Create(
            new StageOptions<int> { Name = "many", Shards = 2, KeySelector = i => i },
            (int item, CancellationToken _) => processed.Enqueue(item));

        static IEnumerable<int> ThrowsAfter(int count)
        {
            for (int i = 0; i < count; i++)
            {
                yield return i;
            }

            throw new InvalidDataException("the source failed");
        }

        Assert.ThrowsAsync<InvalidDataException>(async () => await stage.WriteManyAsync(ThrowsAfter(GroupSizeAndAHalf)));
        stage.Complete();
        await stage.Completion.Within();
        Assert.Multiple(() =>
        {
            Assert.That(processed.Order(), Is.EqualTo(Enumerable.Range(0, GroupSizeAndAHalf)));
            Assert.That(stage.GetCounts().Accepted, Is.EqualTo(GroupSizeAndAHalf));
        });
    }

    [Test]
    public async Task A_full_shard_holds_back_the_rest_of_the_call_until_it_has_room()
    {
        var gate = new Gate();
        var processed = new ConcurrentQueue<int>();
        await using Stage<int> stage = Stage.Create(
            new StageOptions<int> { Name = "many", Shards = 1, Capacity = 2, KeySelector = _ => "one" },
            async (int item, CancellationToken ct) =>
            {
                if (item == 0)
                {
                    await gate.PassAsync(ct);
                }

                processed.Enqueue(item);
            });

        ValueTask<int> writing = stage.WriteManyAsync(Enumerable.Range(0, 10));
        await gate.StartedAsync();
        await TestWait.UntilAsync(() => stage.GetShardCounts(0).Waiting == 2, "the channel filled behind item 0");
        Assert.Multiple(() =>
        {
            Assert.That(writing.IsCompleted, Is.False, "the call waits for room");
            Assert.That(stage.GetCounts().Accepted, Is.EqualTo(3), "item 0 in the handler, items 1 and 2 in the channel, nothing after");
        });

        gate.Open();
        Assert.That(await writing.Within(), Is.EqualTo(10));
        stage.Complete();
        await stage.Completion.Within();
        Assert.That(processed, Is.EqualTo(Enumerable.Range(0, 10)));
    }

    [Test]
    public async Task Completing_the_stage_while_the_call_waits_refuses_the_rest()
    {
        var gate = new Gate();
        await using Stage<int> stage = Stage.Create(
            new StageOptions<int> { Name = "many", Shards = 1, Capacity = 2, KeySelector = _ => "one" },
            async (int item, CancellationToken ct) =>
            {
                if (item == 0)
                {
                    await gate.PassAsync(ct);
                }
            });

        ValueTask<int> writing = stage.WriteManyAsync(Enumerable.Range(0, 10));
        await gate.StartedAsync();
        await TestWait.UntilAsync(() => stage.GetShardCounts(0).Waiting == 2, "the channel filled behind item 0");
        stage.Complete();
        Assert.ThrowsAsync<StageCompletedException>(async () => await writing);
        gate.Open();
        await stage.Completion.Within();
        StageCounts counts = stage.GetCounts();
        Assert.Multiple(() =>
        {
            Assert.That(counts.Accepted, Is.EqualTo(3));
            Assert.That(counts.Processed, Is.EqualTo(3));
            Assert.That(counts.Refused, Is.EqualTo(1), "the write that waited was refused; the items after it were never tried");
            Assert.That(counts.IsConserved && counts.Pending == 0, Is.True, counts.ToString());
        });
    }

    [Test]
    public async Task Cancelling_while_the_call_waits_leaves_the_items_before_accepted()
    {
        var gate = new Gate();
        using var cancel = new CancellationTokenSource();
        await using Stage<int> stage = Stage.Create(
            new StageOptions<int> { Name = "many", Shards = 1, Capacity = 2, KeySelector = _ => "one" },
            async (int item, CancellationToken ct) =>
            {
                if (item == 0)
                {
                    await gate.PassAsync(ct);
                }
            });

        ValueTask<int> writing = stage.WriteManyAsync(Enumerable.Range(0, 10), cancel.Token);
        await gate.StartedAsync();
        await TestWait.UntilAsync(() => stage.GetShardCounts(0).Waiting == 2, "the channel filled behind item 0");
        await cancel.CancelAsync();
        Assert.That(async () => await writing, Throws.InstanceOf<OperationCanceledException>());
        gate.Open();
        stage.Complete();
        await stage.Completion.Within();
        StageCounts counts = stage.GetCounts();
        Assert.Multiple(() =>
        {
            Assert.That(counts.Accepted, Is.EqualTo(3));
            Assert.That(counts.Processed, Is.EqualTo(3));
            Assert.That(counts.IsConserved && counts.Pending == 0, Is.True, counts.ToString());
        });
    }

    [Test]
    public async Task A_cancelled_token_writes_nothing()
    {
        await using Stage<int> stage = Stage.Create(
            new StageOptions<int> { Name = "many", Shards = 1, KeySelector = i => i },
            (int _, CancellationToken _) => { });
        Assert.That(async () => await stage.WriteManyAsync(Enumerable.Range(0, 10), new CancellationToken(canceled: true)), Throws.InstanceOf<OperationCanceledException>());
        Assert.That(stage.GetCounts().Accepted, Is.Zero);
    }

    [TestCase(StageFullMode.DropOldest)]
    [TestCase(StageFullMode.DropNewest)]
    [TestCase(StageFullMode.DropWrite)]
    public async Task Dropping_full_modes_drop_and_count_as_a_single_write_would(StageFullMode mode)
    {
        var gate = new Gate();
        var dropped = new ConcurrentQueue<int>();
        var processed = new ConcurrentQueue<int>();
        await using Stage<int> stage = Stage.Create(
            new StageOptions<int>
            {
                Name = "many",
                Shards = 1,
                Capacity = 2,
                FullMode = mode,
                KeySelector = _ => "one",
                OnDropped = (item, _) => dropped.Enqueue(item),
            },
            async (int item, CancellationToken ct) =>
            {
                if (item == 0)
                {
                    await gate.PassAsync(ct);
                }

                processed.Enqueue(item);
            });

        Assert.That(await stage.WriteManyAsync([0]).Within(), Is.EqualTo(1));
        await gate.StartedAsync();
        int written = await stage.WriteManyAsync(Enumerable.Range(1, 9)).Within();
        gate.Open();
        stage.Complete();
        await stage.Completion.Within();
        StageCounts counts = stage.GetCounts();
        int[] expectedProcessed = mode switch
        {
            StageFullMode.DropOldest => [0, 8, 9],
            StageFullMode.DropNewest => [0, 1, 9],
            _ => [0, 1, 2],
        };
        Assert.Multiple(() =>
        {
            Assert.That(written, Is.EqualTo(9), "dropped items count as written");
            Assert.That(processed, Is.EqualTo(expectedProcessed));
            Assert.That(dropped.Order(), Is.EqualTo(Enumerable.Range(0, 10).Except(expectedProcessed)));
            Assert.That(counts.Accepted, Is.EqualTo(10));
            Assert.That(counts.DroppedOldest + counts.DroppedNewest + counts.DroppedWrite, Is.EqualTo(7));
            Assert.That(counts.IsConserved && counts.Pending == 0, Is.True, counts.ToString());
        });
    }

    [Test]
    public async Task Reject_mode_throws_for_the_item_that_found_no_room()
    {
        var gate = new Gate();
        await using Stage<int> stage = Stage.Create(
            new StageOptions<int> { Name = "many", Shards = 1, Capacity = 2, FullMode = StageFullMode.Reject, KeySelector = _ => "one" },
            async (int item, CancellationToken ct) =>
            {
                if (item == 0)
                {
                    await gate.PassAsync(ct);
                }
            });

        await stage.WriteAsync(0);
        await gate.StartedAsync();
        Assert.ThrowsAsync<StageFullException>(async () => await stage.WriteManyAsync(Enumerable.Range(1, 9)));
        gate.Open();
        stage.Complete();
        await stage.Completion.Within();
        StageCounts counts = stage.GetCounts();
        Assert.Multiple(() =>
        {
            Assert.That(counts.Accepted, Is.EqualTo(3), "item 0, then items 1 and 2 filled the channel; item 3 was refused");
            Assert.That(counts.Refused, Is.EqualTo(1));
            Assert.That(counts.IsConserved && counts.Pending == 0, Is.True, counts.ToString());
        });
    }

    [Test]
    public async Task A_group_is_stamped_once_when_it_is_written_and_every_item_gets_its_queue_wait()
    {
        var time = new WatchedTimeProvider();
        var entries = new ConcurrentDictionary<int, long>();
        var gate = new Gate();
        await using Stage<int> stage = Stage.Create(
            new StageOptions<int> { Name = "many", Shards = 2, TimeProvider = time, KeySelector = i => i },
            async (int item, ItemContext context, CancellationToken ct) =>
            {
                entries[item] = context.EntryTimestamp;
                if (item == 0)
                {
                    await gate.PassAsync(ct);
                }
            });

        long first = time.GetTimestamp();
        await stage.WriteManyAsync(Enumerable.Range(0, GroupSize)).Within();
        await gate.StartedAsync();
        time.Advance(TimeSpan.FromSeconds(1));
        long second = time.GetTimestamp();
        await stage.WriteManyAsync(Enumerable.Range(GroupSize, GroupSize)).Within();
        gate.Open();
        stage.Complete();
        await stage.Completion.Within();
        StageMetricsSnapshot snapshot = stage.TakeMetricsSnapshot();
        Assert.Multiple(() =>
        {
            Assert.That(entries.Where(e => e.Key < GroupSize).Select(e => e.Value), Is.All.EqualTo(first));
            Assert.That(entries.Where(e => e.Key >= GroupSize).Select(e => e.Value), Is.All.EqualTo(second));
            Assert.That(snapshot.QueueWait.Count, Is.EqualTo(2 * GroupSize), "every item's queue wait is recorded");
        });
    }

    [Test]
    public async Task A_dedupe_stage_writes_every_item_alone_and_still_collapses_bursts()
    {
        var gate = new Gate();
        var processed = new ConcurrentQueue<int>();
        await using Stage<int> stage = Stage.Create(
            new StageOptions<int> { Name = "many", Shards = 1, KeySelector = i => i % 2, Dedupe = new Engine.Dedupe.DedupeOptions<int> { Mode = Engine.Dedupe.DedupeMode.Replace } },
            async (int item, CancellationToken ct) =>
            {
                if (item == 0)
                {
                    await gate.PassAsync(ct);
                }

                processed.Enqueue(item);
            });

        await stage.WriteAsync(0);
        await gate.StartedAsync();
        Assert.That(await stage.WriteManyAsync(Enumerable.Range(1, 9)).Within(), Is.EqualTo(9));
        gate.Open();
        stage.Complete();
        await stage.Completion.Within();
        StageCounts counts = stage.GetCounts();
        Assert.Multiple(() =>
        {
            Assert.That(processed, Is.EquivalentTo(new[] { 0, 8, 9 }), "key 0 ran item 0 and then its newest, key 1 its newest");
            Assert.That(counts.IsConserved && counts.Pending == 0, Is.True, counts.ToString());
        });
    }

}
