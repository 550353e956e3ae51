using System.Threading.Channels;
using Engine.Queues;
using Engine.Tests.Support;

// The tests inspect the ValueTasks a wait returns (completed or not, cancelled or not) before consuming them once.
#pragma warning disable CA2012

namespace Engine.Tests.Queues;

/// <summary>
/// The contract of a bounded channel, checked on the engine's own <see cref="RingChannel{T}"/>: what
/// the runtime's channel tests check (<c>ChannelTestBase</c>, <c>BoundedChannelTests</c>,
/// <c>Stress</c>, <c>CancellationLeakTests</c>), written anew, and what the shard relies on beyond
/// them (an exact capacity, one waiting writer woken per freed place in arrival order, a wake-up that
/// is not lost when the taker then blocks for ever, no claim after completion, waits without a token
/// that allocate nothing).
/// </summary>
public class RingChannelTests
{
    private static readonly bool Ci = string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    [TestCase(1)]
    [TestCase(2)]
    [TestCase(3)]
    [TestCase(5)]
    [TestCase(8)]
    [TestCase(1000)]
    public void It_holds_exactly_its_capacity(int capacity)
    {
        var channel = new RingChannel<int>(capacity);
        for (int i = 0; i < capacity; i++)
        {
            Assert.That(channel.Writer.TryWrite(i), Is.True, $"write {i}");
        }

        Assert.Multiple(() =>
        {
            Assert.That(channel.Writer.TryWrite(-1), Is.False, "a write past the capacity");
            Assert.That(channel.Reader.Count, Is.EqualTo(capacity));
            Assert.That(channel.Reader.CanCount, Is.True);
        });

        Assert.That(channel.Reader.TryRead(out int first), Is.True);
        Assert.Multiple(() =>
        {
            Assert.That(first, Is.Zero);
            Assert.That(channel.Writer.TryWrite(capacity), Is.True, "a take frees exactly one place");
            Assert.That(channel.Writer.TryWrite(-1), Is.False);
        });
    }

    [Test]
    public void Items_come_out_in_the_order_they_went_in_over_many_laps()
    {
        var channel = new RingChannel<int>(3);
        int next = 0;
        for (int lap = 0; lap < 1000; lap++)
        {
            int wrote = 0;
            while (channel.Writer.TryWrite((lap * 10) + wrote))
            {
                wrote++;
            }

            for (int i = 0; i < wrote; i++)
            {
                Assert.That(channel.Reader.TryRead(out int item), Is.True);
                Assert.That(item, Is.EqualTo((lap * 10) + i));
                next++;
            }

            Assert.That(channel.Reader.TryRead(out _), Is.False, "empty after every lap");
        }

        Assert.That(next, Is.EqualTo(3000));
    }

    [Test]
    public void Taken_references_are_cleared_from_the_ring()
    {
        var channel = new RingChannel<object>(2);
        WeakReference weak = WriteAndTake(channel);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        Assert.That(weak.IsAlive, Is.False, "the ring still held the taken item");

        static WeakReference WriteAndTake(RingChannel<object> channel)
        {
            var item = new object();
            channel.Writer.TryWrite(item);
            channel.Reader.TryRead(out _);
            return new WeakReference(item);
        }
    }

    /// <summary>
    /// A claim sampler sees exactly the claims at positions 0, N, 2N, … whichever way they were written
    /// (a plain write, a write that waited for room), with the item still in its slot: what it changes
    /// is what the taker gets.
    /// </summary>
    [Test]
    public async Task A_claim_sampler_sees_every_fourth_claim_and_can_change_the_item_before_it_is_taken()
    {
        var sampler = new Marker();
        var channel = new RingChannel<int>(2, sampler, sampleEvery: 4);
        var taken = new List<int>();
        for (int i = 0; i < 10; i++)
        {
            if (!channel.Writer.TryWrite(i))
            {
                ValueTask waiting = channel.Writer.WriteAsync(i);
                Assert.That(waiting.IsCompleted, Is.False, "a full ring makes the write wait");
                while (channel.Reader.TryRead(out int item))
                {
                    taken.Add(item);
                }

                await waiting.AsTask().Within();
            }
        }

        while (channel.Reader.TryRead(out int item))
        {
            taken.Add(item);
        }

        Assert.Multiple(() =>
        {
            Assert.That(sampler.Seen, Is.EqualTo(new[] { 0, 4, 8 }), "the items claimed at positions 0, 4 and 8");
            Assert.That(taken, Is.EqualTo(new[] { 1000, 1, 2, 3, 1004, 5, 6, 7, 1008, 9 }), "sampled items as the sampler left them");
        });
    }

    [TestCase(0)]
    [TestCase(3)]
    [TestCase(-4)]
    public void The_constructor_rejects_a_sampling_interval_that_is_not_a_power_of_two(int every)
    {
        ArgumentOutOfRangeException error = Assert.Throws<ArgumentOutOfRangeException>(() => _ = new RingChannel<int>(4, new Marker(), every))!;
        Assert.That(error.ParamName, Is.EqualTo("sampleEvery"));
    }

    [Test]
    public void The_constructor_rejects_a_capacity_below_one()
    {
        Assert.Multiple(() =>
        {
            Assert.That(() => new RingChannel<int>(0), Throws.TypeOf<ArgumentOutOfRangeException>().With.Property("ParamName").EqualTo("capacity"));
            Assert.That(() => new RingChannel<int>(-5), Throws.TypeOf<ArgumentOutOfRangeException>());
        });
    }

    [Test]
    public async Task A_waiting_writer_is_woken_by_a_take_whose_taker_then_blocks_for_ever()
    {
        var channel = new RingChannel<int>(1);
        channel.Writer.TryWrite(1);
        ValueTask<bool> wait = channel.Writer.WaitToWriteAsync();
        Assert.That(wait.IsCompleted, Is.False, "a full channel makes the writer wait");

        var blocked = new ManualResetEventSlim();
        var took = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var taker = new Thread(() =>
        {
            channel.Reader.TryRead(out _);
            took.SetResult();
            blocked.Wait();
        }) { IsBackground = true };
        taker.Start();

        await took.Task.Within();
        Assert.That(await wait.AsTask().Within(), Is.True);
        Assert.That(channel.Writer.TryWrite(2), Is.True);
        blocked.Set();
    }

    [Test]
    public async Task Waiting_writers_are_woken_one_per_freed_place_first_come_first_served()
    {
        var channel = new RingChannel<int>(1);
        channel.Writer.TryWrite(0);
        Task<bool>[] waits = [.. Enumerable.Range(0, 3).Select(_ => channel.Writer.WaitToWriteAsync().AsTask())];
        Assert.That(channel.WaitingWriters, Is.EqualTo(3));

        channel.Reader.TryRead(out _);
        Assert.That(await waits[0].Within(), Is.True);
        Assert.Multiple(() =>
        {
            Assert.That(waits[1].IsCompleted, Is.False, "the second writer waits for the next place");
            Assert.That(waits[2].IsCompleted, Is.False);
            Assert.That(channel.WaitingWriters, Is.EqualTo(2));
        });

        channel.Writer.TryWrite(1);
        channel.Reader.TryRead(out _);
        Assert.That(await waits[1].Within(), Is.True);
        Assert.That(waits[2].IsCompleted, Is.False);

        channel.Writer.TryComplete();
        Assert.That(await waits[2].Within(), Is.False, "completion ends every wait");
    }

    [Test]
    public async Task A_cancelled_waiting_writer_leaves_and_the_next_take_wakes_the_writer_after_it()
    {
        var channel = new RingChannel<int>(1);
        channel.Writer.TryWrite(0);
        using var cancel = new CancellationTokenSource();
        Task<bool> first = channel.Writer.WaitToWriteAsync(cancel.Token).AsTask();
        Task<bool> second = channel.Writer.WaitToWriteAsync().AsTask();

        await cancel.CancelAsync();
        Assert.That(async () => await first.Within(), Throws.InstanceOf<OperationCanceledException>());
        Assert.That(channel.WaitingWriters, Is.EqualTo(1));

        channel.Reader.TryRead(out _);
        Assert.That(await second.Within(), Is.True, "the place went to the writer still waiting");
    }

    [Test]
    public void A_wait_with_a_token_already_cancelled_ends_at_once()
    {
        var channel = new RingChannel<int>(1);
        channel.Writer.TryWrite(0);
        Assert.Multiple(() =>
        {
            Assert.That(channel.Writer.WaitToWriteAsync(new CancellationToken(true)).IsCanceled, Is.True);
            Assert.That(channel.Writer.WriteAsync(1, new CancellationToken(true)).IsCanceled, Is.True);
            Assert.That(new RingChannel<int>(1).Reader.WaitToReadAsync(new CancellationToken(true)).IsCanceled, Is.True);
            Assert.That(channel.WaitingWriters, Is.Zero);
        });
    }

    [Test]
    public void Cancelled_waits_leave_nothing_behind()
    {
        var channel = new RingChannel<int>(1);
        channel.Writer.TryWrite(0);
        for (int i = 0; i < 10_000; i++)
        {
            using var cancel = new CancellationTokenSource();
            ValueTask<bool> writeWait = channel.Writer.WaitToWriteAsync(cancel.Token);
            ValueTask<bool> readWait = new RingChannel<int>(1).Reader.WaitToReadAsync(cancel.Token);
            cancel.Cancel();
            Assert.That(writeWait.IsCanceled, Is.True);
            Assert.That(readWait.IsCanceled, Is.True);
        }

        Assert.That(channel.WaitingWriters, Is.Zero, "cancelled waiters stay listed");
        Assert.That(channel.Reader.TryRead(out int item) && item == 0 && !channel.Reader.TryRead(out _), Is.True, "a cancelled wait wrote nothing");
    }

    [Test]
    public void A_wait_without_a_token_allocates_nothing_once_warm()
    {
        var channel = new RingChannel<int>(1);
        channel.Writer.TryWrite(0);
        long before = 0;
        int waited = 0;
        int woken = 0;
        for (int round = 0; round < 2_000; round++)
        {
            if (round == 1_000)
            {
                before = GC.GetAllocatedBytesForCurrentThread();
            }

            ValueTask<bool> wait = channel.Writer.WaitToWriteAsync();
            waited += wait.IsCompleted ? 0 : 1;
            channel.Reader.TryRead(out _);
            woken += wait.IsCompleted && wait.Result ? 1 : 0;
            channel.Writer.TryWrite(round);
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.That((waited, woken, allocated), Is.EqualTo((2_000, 2_000, 0L)), "(waits that waited, waits woken, bytes allocated by the last 1,000)");
    }

    [Test]
    public async Task A_waiting_reader_is_woken_by_a_write_and_by_completion()
    {
        var channel = new RingChannel<int>(4);
        ValueTask<bool> wait = channel.Reader.WaitToReadAsync();
        Assert.That(wait.IsCompleted, Is.False);
        channel.Writer.TryWrite(7);
        Assert.That(await wait.AsTask().Within(), Is.True);
        Assert.That(await channel.Reader.ReadAsync().AsTask().Within(), Is.EqualTo(7));

        Task<bool> last = channel.Reader.WaitToReadAsync().AsTask();
        channel.Writer.Complete();
        Assert.That(await last.Within(), Is.False);
    }

    [Test]
    public async Task Completion_ends_writes_at_once_and_reads_once_drained()
    {
        var channel = new RingChannel<int>(3);
        channel.Writer.TryWrite(1);
        channel.Writer.TryWrite(2);
        Assert.That(channel.Writer.TryComplete(), Is.True);
        Assert.Multiple(() =>
        {
            Assert.That(channel.Writer.TryComplete(), Is.False, "completed once");
            Assert.That(channel.Writer.TryWrite(3), Is.False);
            Assert.That(channel.Reader.Completion.IsCompleted, Is.False, "items are still to be taken");
        });
        Assert.That(await channel.Writer.WaitToWriteAsync(), Is.False);
        Assert.That(async () => await channel.Writer.WriteAsync(3), Throws.TypeOf<ChannelClosedException>());
        Assert.That(await channel.Reader.WaitToReadAsync(), Is.True);

        int[] drained = [.. await channel.Reader.ReadAllAsync().ToArrayAsync()];
        Assert.That(drained, Is.EqualTo(new[] { 1, 2 }));
        await channel.Reader.Completion.Within();
        Assert.That(await channel.Reader.WaitToReadAsync(), Is.False);
        Assert.That(async () => await channel.Reader.ReadAsync(), Throws.TypeOf<ChannelClosedException>());
    }

    [Test]
    public async Task Completing_with_an_error_faults_the_completion_after_the_drain()
    {
        var channel = new RingChannel<int>(2);
        var error = new InvalidOperationException("upstream failed");
        channel.Writer.TryWrite(1);
        channel.Writer.TryComplete(error);
        Assert.That(async () => await channel.Writer.WaitToWriteAsync(), Throws.Exception.SameAs(error));
        Assert.That(channel.Reader.TryRead(out int item) && item == 1, Is.True);
        Assert.That(async () => await channel.Reader.Completion.Within(), Throws.Exception.SameAs(error));
        Assert.That(async () => await channel.Reader.WaitToReadAsync(), Throws.Exception.SameAs(error));
        Assert.That(async () => await channel.Reader.ReadAsync(), Throws.TypeOf<ChannelClosedException>().With.InnerException.SameAs(error));
        Assert.That(async () => await channel.Writer.WriteAsync(2), Throws.TypeOf<ChannelClosedException>().With.InnerException.SameAs(error));
    }

    [Test]
    public void Completing_with_a_cancellation_cancels_the_completion()
    {
        var channel = new RingChannel<int>(2);
        channel.Writer.TryComplete(new OperationCanceledException());
        Assert.That(channel.Reader.Completion.IsCanceled, Is.True);
    }

    [Test]
    public async Task A_pending_read_can_be_cancelled()
    {
        var channel = new RingChannel<int>(2);
        using var cancel = new CancellationTokenSource();
        ValueTask<int> read = channel.Reader.ReadAsync(cancel.Token);
        await cancel.CancelAsync();
        Assert.That(async () => await read.AsTask().Within(), Throws.InstanceOf<OperationCanceledException>());
        Assert.That(channel.WaitingReaders, Is.Zero);
        channel.Writer.TryWrite(3);
        Assert.That(channel.Reader.TryRead(out int item) && item == 3, Is.True, "the cancelled read took nothing");
    }

    [TestCase(1, 1, 1)]
    [TestCase(4, 1, 3)]
    [TestCase(1, 4, 2)]
    [TestCase(4, 4, 1)]
    [TestCase(3, 2, 64)]
    public async Task Many_writers_and_readers_hand_over_every_item_once_in_each_writers_order(int writers, int readers, int capacity)
    {
        int perWriter = Ci ? 200_000 : 50_000;
        var channel = new RingChannel<long>(capacity);
        var seen = new int[writers * perWriter];
        var lastOfWriter = new long[readers, writers];
        int outOfOrder = 0;
        Task[] writing = [.. Enumerable.Range(0, writers).Select(w => Task.Run(async () =>
        {
            for (int i = 0; i < perWriter; i++)
            {
                long item = ((long)w << 32) | (uint)i;
                if (!channel.Writer.TryWrite(item))
                {
                    await channel.Writer.WriteAsync(item);
                }
            }
        }))];
        Task[] reading = [.. Enumerable.Range(0, readers).Select(r => Task.Run(async () =>
        {
            for (int w = 0; w < writers; w++)
            {
                lastOfWriter[r, w] = -1;
            }

            while (await channel.Reader.WaitToReadAsync())
            {
                while (channel.Reader.TryRead(out long item))
                {
                    int w = (int)(item >> 32);
                    int i = (int)(uint)item;
                    Interlocked.Increment(ref seen[(w * perWriter) + i]);

                    // One reader sees each writer's items in the order they were written.
                    if (i <= lastOfWriter[r, w])
                    {
                        Interlocked.Increment(ref outOfOrder);
                    }

                    lastOfWriter[r, w] = i;
                }
            }
        }))];

        await Task.WhenAll(writing).WaitAsync(TimeSpan.FromMinutes(2));
        channel.Writer.Complete();
        await Task.WhenAll(reading).WaitAsync(TimeSpan.FromMinutes(2));
        await channel.Reader.Completion.Within();
        Assert.Multiple(() =>
        {
            Assert.That(seen.Count(n => n != 1), Is.Zero, "items not handed over exactly once");
            Assert.That(outOfOrder, Is.Zero);
            Assert.That(channel.Reader.Count, Is.Zero);
        });
    }

    [Test]
    public async Task No_claim_succeeds_after_completion_and_every_accepted_item_is_read()
    {
        int rounds = Ci ? 400 : 100;
        for (int round = 0; round < rounds; round++)
        {
            var channel = new RingChannel<int>(4);
            int accepted = 0;
            int lateClaims = 0;
            int completed = 0;
            using var stop = new CancellationTokenSource();
            Task[] writers = [.. Enumerable.Range(0, 3).Select(_ => Task.Run(() =>
            {
                while (!stop.IsCancellationRequested)
                {
                    bool closedBefore = Volatile.Read(ref completed) != 0;
                    if (channel.Writer.TryWrite(1))
                    {
                        Interlocked.Increment(ref accepted);
                        if (closedBefore)
                        {
                            Interlocked.Increment(ref lateClaims);
                        }
                    }
                }
            }))];
            int read = 0;
            Task reader = Task.Run(async () =>
            {
                while (await channel.Reader.WaitToReadAsync())
                {
                    while (channel.Reader.TryRead(out _))
                    {
                        read++;
                    }
                }
            });

            await Task.Yield();
            channel.Writer.TryComplete();
            Volatile.Write(ref completed, 1);
            await reader.Within();
            await stop.CancelAsync();
            await Task.WhenAll(writers).Within();
            Assert.Multiple(() =>
            {
                Assert.That(lateClaims, Is.Zero, $"round {round}: a write succeeded after TryComplete returned");
                Assert.That(read, Is.EqualTo(accepted), $"round {round}: accepted items not read");
                Assert.That(channel.Reader.Completion.IsCompletedSuccessfully, Is.True);
            });
        }
    }

    [Test]
    public async Task A_cancellation_racing_a_wake_either_wakes_the_waiter_or_passes_the_place_on()
    {
        int rounds = Ci ? 20_000 : 5_000;
        for (int round = 0; round < rounds; round++)
        {
            var channel = new RingChannel<int>(1);
            channel.Writer.TryWrite(0);
            using var cancel = new CancellationTokenSource();
            Task<bool> racing = channel.Writer.WaitToWriteAsync(cancel.Token).AsTask();
            Task<bool> behind = channel.Writer.WaitToWriteAsync().AsTask();
            Task cancelling = Task.Run(cancel.Cancel);
            channel.Reader.TryRead(out _);
            await cancelling;

            bool racingWoke;
            try
            {
                racingWoke = await racing.Within();
            }
            catch (OperationCanceledException)
            {
                racingWoke = false;
            }

            if (racingWoke)
            {
                Assert.That(behind.IsCompleted, Is.False, $"round {round}: one place woke two writers");
                channel.Writer.TryComplete();
            }
            else
            {
                Assert.That(await behind.Within(), Is.True, $"round {round}: the place was lost with the cancelled waiter");
            }
        }
    }

    /// <summary>Records each sampled item and marks it by adding 1000.</summary>
    private sealed class Marker : IClaimSampler<int>
    {
        public List<int> Seen { get; } = [];

        public void Sampled(ref int item)
        {
            Seen.Add(item);
            item += 1000;
        }
    }
}
