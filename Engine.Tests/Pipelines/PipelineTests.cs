using System.Collections.Concurrent;
using System.Threading.Channels;
using Engine.Dedupe;
using Engine.Pipelines;
using Engine.Retry;
using Engine.Stages;
using Engine.Tests.Support;

namespace Engine.Tests.Pipelines;

public class PipelineTests
{
    private readonly record struct Reading(string Sensor, int Value);

    private readonly record struct Enriched(string Sensor, string Site, int Value);

    [Test]
    public async Task A_chain_of_typed_stages_transforms_filters_and_fans_out_items()
    {
        var stored = new ConcurrentQueue<string>();
        await using var pipeline = Pipeline.Create<Reading>("sensor")
            .Then<Enriched>("enrich", (r, _) => ValueTask.FromResult(new Enriched(r.Sensor, "site-" + (r.Value % 2), r.Value)), o => { o.KeySelector = r => r.Sensor; o.Shards = 4; })
            .Then<string>(
                "detect",
                (e, emit, _) =>
                {
                    // 0, 1 or 2 outputs per input.
                    for (int i = 0; i < e.Value % 3; i++)
                    {
                        emit($"{e.Sensor}/{e.Value}/{i}");
                    }

                    return default;
                },
                o => o.KeySelector = e => e.Site)
            .Sink("store", (s, _) => { stored.Enqueue(s); return default; })
            .Build();

        for (int v = 0; v < 30; v++)
        {
            await pipeline.WriteAsync(new Reading("s" + (v % 5), v));
        }

        await pipeline.CompleteAsync().Within();
        PipelineCounts counts = pipeline.GetCounts();
        int expected = Enumerable.Range(0, 30).Sum(v => v % 3);
        Assert.Multiple(() =>
        {
            Assert.That(stored, Has.Count.EqualTo(expected));
            Assert.That(counts["enrich"].Processed, Is.EqualTo(30));
            Assert.That(counts.EmittedBy("enrich"), Is.EqualTo(30));
            Assert.That(counts["detect"].Accepted, Is.EqualTo(30));
            Assert.That(counts.EmittedBy("detect"), Is.EqualTo(expected));
            Assert.That(counts["store"].Processed, Is.EqualTo(expected));
            Assert.That(counts.IsConserved, Is.True);
        });
    }

    [Test]
    public async Task Re_keying_keeps_per_key_order_within_each_stage()
    {
        var seenBySite = new ConcurrentDictionary<string, ConcurrentQueue<int>>();
        await using var pipeline = Pipeline.Create<Reading>("order")
            .Then<Enriched>("enrich", (r, _) => ValueTask.FromResult(new Enriched(r.Sensor, "site-" + r.Sensor[^1], r.Value)), o => { o.KeySelector = r => r.Sensor; o.Shards = 3; o.WorkersPerShard = 3; })
            .Sink("store", async (e, _) => { await Task.Yield(); seenBySite.GetOrAdd(e.Site, _ => new()).Enqueue(e.Value); }, o => { o.KeySelector = e => e.Site; o.Shards = 2; o.WorkersPerShard = 4; })
            .Build();

        // Sensors "a0".."a9" map to sites by their last digit; values rise per sensor.
        for (int v = 0; v < 200; v++)
        {
            await pipeline.WriteAsync(new Reading("a" + (v % 10), v));
        }

        await pipeline.CompleteAsync().Within();
        Assert.Multiple(() =>
        {
            Assert.That(seenBySite, Has.Count.EqualTo(10));
            foreach ((string site, ConcurrentQueue<int> values) in seenBySite)
            {
                Assert.That(values, Is.Ordered.Ascending, site);
                Assert.That(values, Has.Count.EqualTo(20), site);
            }
        });
    }

    [Test]
    public async Task A_stalled_sink_eventually_blocks_the_head_with_every_channel_at_its_bound_and_nothing_dropped()
    {
        var gate = new Gate();
        const int capacity = 4;
        await using var pipeline = Pipeline.Create<int>("pressure")
            .Then<int>("double", (i, _) => ValueTask.FromResult(i * 2), o => { o.Shards = 1; o.Capacity = capacity; o.KeySelector = _ => "one"; })
            .Sink("stuck", async (_, ct) => await gate.PassAsync(ct), o => { o.Shards = 1; o.Capacity = capacity; o.KeySelector = _ => "one"; })
            .Build();

        // Saturated: 1 in the sink's handler, `capacity` in its channel, 1 in "double"'s handler waiting
        // to forward, `capacity` in "double"'s channel; the next write at the head then waits.
        const int saturated = 1 + capacity + 1 + capacity;
        int written = 0;
        Task writer = Task.Run(async () =>
        {
            for (int i = 0; i <= saturated; i++)
            {
                await pipeline.WriteAsync(i);
                Interlocked.Increment(ref written);
            }
        });

        await gate.StartedAsync();
        await TestWait.UntilAsync(
            () => Volatile.Read(ref written) == saturated && pipeline.GetCounts()["stuck"].Waiting == capacity && pipeline.GetCounts()["double"].Waiting == capacity,
            "every channel at its bound");

        PipelineCounts blocked = pipeline.GetCounts();
        Assert.Multiple(() =>
        {
            Assert.That(writer.IsCompleted, Is.False, "the head write waits");
            Assert.That(blocked["stuck"].InFlight + blocked["double"].InFlight, Is.EqualTo(2));
            Assert.That(blocked["stuck"].Dropped + blocked["double"].Dropped, Is.Zero);
        });

        gate.Open();
        await writer.Within();
        await pipeline.CompleteAsync().Within();
        Assert.That(pipeline.GetCounts()["stuck"].Processed, Is.EqualTo(saturated + 1));
    }

    [Test]
    public async Task Broadcast_sends_every_item_to_every_branch_and_a_slow_branch_holds_back_rather_than_drops()
    {
        var gate = new Gate();
        var fast = new ConcurrentQueue<int>();
        var slow = new ConcurrentQueue<int>();
        await using var pipeline = Pipeline.Create<int>("fanout")
            .Then<int>("source", (i, _) => ValueTask.FromResult(i), o => { o.Shards = 1; o.Capacity = 2; })
            .Broadcast(
                b => b.Sink("fast", (i, _) => { fast.Enqueue(i); return default; }, o => o.Capacity = 2),
                b => b.Sink("slow", async (i, ct) => { if (i == 0) { await gate.PassAsync(ct); } slow.Enqueue(i); }, o => o.Capacity = 2))
            .Build();

        Task writer = Task.Run(async () =>
        {
            for (int i = 0; i < 50; i++)
            {
                await pipeline.WriteAsync(i);
            }
        });
        await gate.StartedAsync();
        Assert.That(writer.IsCompleted, Is.False, "the slow branch holds the writer back");
        gate.Open();
        await writer.Within();
        await pipeline.CompleteAsync().Within();
        Assert.Multiple(() =>
        {
            Assert.That(fast.Order(), Is.EqualTo(Enumerable.Range(0, 50)));
            Assert.That(slow, Is.EqualTo(Enumerable.Range(0, 50)));
            Assert.That(pipeline.GetCounts().EmittedBy("source"), Is.EqualTo(50));
        });
    }

    [Test]
    public async Task A_fan_in_stage_completes_only_after_all_its_upstreams_have_completed_and_drained()
    {
        var gate = new Gate();
        var merged = new ConcurrentQueue<string>();
        PipelineBuilder<int> builder = Pipeline.Create<int>("fanin");
        PipelineTarget<string> store = builder.SinkTarget<string>("store", (s, _) => { merged.Enqueue(s); return default; });
        await using Pipeline<int> pipeline = builder
            .Broadcast(
                b => b.Then<string>("left", (i, _) => ValueTask.FromResult("L" + i)).To(store),
                b => b.Then<string>("right", async (i, ct) => { if (i == 0) { await gate.PassAsync(ct); } return "R" + i; }).To(store))
            .Build();

        for (int i = 0; i < 5; i++)
        {
            await pipeline.WriteAsync(i);
        }

        await gate.StartedAsync();
        pipeline.Complete();

        // TPL Dataflow would complete a target when its first source completes; here "left" is done
        // and "right" is not, so "store" must still be running and accepting.
        await pipeline.Runtime.Nodes.Single(n => n.Name == "left").Completion.Within();
        Assert.Multiple(() =>
        {
            Assert.That(pipeline.Runtime.Nodes.Single(n => n.Name == "store").Completion.IsCompleted, Is.False);
            Assert.That(pipeline.Completion.IsCompleted, Is.False);
        });

        gate.Open();
        await pipeline.Completion.Within();
        Assert.Multiple(() =>
        {
            Assert.That(merged, Has.Count.EqualTo(10));
            Assert.That(merged.Where(s => s[0] == 'R'), Has.Exactly(5).Items);
        });
    }

    [Test]
    public async Task Batches_form_by_size_and_by_time_window_on_the_fake_clock()
    {
        var time = new WatchedTimeProvider();
        var batches = Channel.CreateUnbounded<IReadOnlyList<int>>();
        await using var pipeline = Pipeline.Create<int>("batching", time)
            .Batch("batch", size: 3, window: TimeSpan.FromSeconds(10))
            .Sink("store", (b, _) => { batches.Writer.TryWrite(b); return default; })
            .Build();

        for (int i = 1; i <= 4; i++)
        {
            await pipeline.WriteAsync(i);
        }

        Assert.That(await batches.Reader.ReadAsync().AsTask().Within(), Is.EqualTo(new[] { 1, 2, 3 }), "full batch by size");
        await time.NextTimerAsync();
        Assert.That(batches.Reader.TryRead(out _), Is.False, "item 4 waits for its window");
        time.Advance(TimeSpan.FromSeconds(10));
        Assert.That(await batches.Reader.ReadAsync().AsTask().Within(), Is.EqualTo(new[] { 4 }), "partial batch by time");

        await pipeline.WriteAsync(5);
        await pipeline.CompleteAsync().Within();
        Assert.That(await batches.Reader.ReadAsync().AsTask().Within(), Is.EqualTo(new[] { 5 }), "the rest is flushed on completion");
        Assert.That(pipeline.GetCounts()["batch"].Processed, Is.EqualTo(5));
    }

    [Test]
    public async Task The_entry_timestamp_survives_every_hop_transforms_fan_out_and_batches()
    {
        var time = new WatchedTimeProvider();
        var gate = new Gate();
        var ages = new ConcurrentQueue<(string Sink, int Item, TimeSpan Age)>();
        await using var pipeline = Pipeline.Create<int>("latency", time)
            .Then<int>("a", (i, _) => ValueTask.FromResult(i))
            .Then<int>("b", (i, emit, _) => { emit(i); emit(i + 100); return default; })
            .Broadcast(
                x => x.Sink("direct", async (i, ctx, ct) => { await gate.PassAsync(ct); ages.Enqueue(("direct", i, ctx.Age)); }),
                x => x.Batch("batch", size: 4).Sink("batched", (b, ctx, _) => { ages.Enqueue(("batched", b.Count, ctx.Age)); return default; }))
            .Build();

        await pipeline.WriteAsync(1);
        time.Advance(TimeSpan.FromSeconds(3));
        await pipeline.WriteAsync(2);
        time.Advance(TimeSpan.FromSeconds(4));
        gate.Open();
        await pipeline.CompleteAsync().Within();

        // Item 1 (and its copy 101) entered 7 s before the sinks ran, item 2 (and 102) 4 s before; the
        // batch of all four carries its oldest item's entry.
        Assert.Multiple(() =>
        {
            Assert.That(
                ages.Where(a => a.Sink == "direct").OrderBy(a => a.Item).Select(a => (a.Item, a.Age.TotalSeconds)),
                Is.EqualTo(new[] { (1, 7.0), (2, 4.0), (101, 7.0), (102, 4.0) }));
            Assert.That(ages.Where(a => a.Sink == "batched").Select(a => (a.Item, a.Age.TotalSeconds)), Is.EqualTo(new[] { (4, 7.0) }));
        });
    }

    [Test]
    public async Task A_bug_in_a_downstream_key_selector_faults_the_pipeline_and_reports_what_was_inside()
    {
        await using var pipeline = Pipeline.Create<int>("faulty")
            .Then<int>("parse", (i, _) => ValueTask.FromResult(i))
            .Sink("store", (_, _) => default, o => o.KeySelector = i => i == 3 ? throw new FormatException("bug") : i)
            .Build();

        for (int i = 0; i < 5; i++)
        {
            try
            {
                await pipeline.WriteAsync(i);
            }
            catch (StageCompletedException)
            {
                // The fault may stop the pipeline before the last writes.
            }
        }

        pipeline.Complete();
        var error = Assert.ThrowsAsync<PipelineFaultedException>(async () => await pipeline.Completion.Within());
        Assert.Multiple(() =>
        {
            Assert.That(error!.Stage, Is.EqualTo("store"));
            Assert.That(error.Message, Does.Contain("faulty").And.Contain("store"));
            Assert.That(error.InnerException, Is.InstanceOf<ArgumentException>());
            Assert.That(error.InnerException!.InnerException, Is.TypeOf<FormatException>());
            Assert.That(error.Counts, Is.Not.Null);
            Assert.That(error.Counts!.IsConserved, Is.True, error.Counts.ToString());
            Assert.That(error.Counts["parse"].Abandoned, Is.GreaterThanOrEqualTo(1), "the item whose forward failed is reported, not lost");
        });
    }

    [Test]
    public async Task Abort_stops_every_stage_promptly_and_reports_abandoned_items_per_stage()
    {
        var gate = new Gate();
        await using var pipeline = Pipeline.Create<int>("abort")
            .Then<int>("first", (i, _) => ValueTask.FromResult(i), o => { o.Shards = 1; o.Capacity = 100; })
            .Sink("stuck", async (_, ct) => await gate.PassAsync(ct), o => { o.Shards = 1; o.Capacity = 100; })
            .Build();

        for (int i = 0; i < 20; i++)
        {
            await pipeline.WriteAsync(i);
        }

        await gate.StartedAsync();
        PipelineCounts counts = await pipeline.AbortAsync().Within();
        Assert.Multiple(() =>
        {
            Assert.That(counts.IsConserved, Is.True, counts.ToString());
            Assert.That(counts.Abandoned, Is.GreaterThanOrEqualTo(1));
            Assert.That(counts["first"].Accepted, Is.EqualTo(20));
            Assert.That(counts["first"].Processed + counts["first"].Abandoned, Is.EqualTo(20));
            Assert.That(counts["stuck"].Accepted, Is.EqualTo(counts["stuck"].Processed + counts["stuck"].Abandoned));
            Assert.That(pipeline.Completion.IsCanceled, Is.True);
        });
    }

    [Test]
    public async Task A_pipeline_feeds_from_an_async_enumerable_and_a_channel_and_exposes_its_sink_as_a_channel()
    {
        var output = Channel.CreateBounded<int>(4);
        await using var pipeline = Pipeline.Create<int>("interop")
            .Then<int>("square", (i, _) => ValueTask.FromResult(i * i))
            .SinkTo("out", output.Writer)
            .Build();

        var input = Channel.CreateUnbounded<int>();
        for (int i = 0; i < 5; i++)
        {
            input.Writer.TryWrite(i);
        }

        input.Writer.Complete();
        Task<List<int>> reading = Task.Run(async () => { var list = new List<int>(); await foreach (int x in output.Reader.ReadAllAsync()) { list.Add(x); } return list; });
        long fed = await pipeline.FeedAsync(Range(5, 5));
        fed += await pipeline.FeedAsync(input.Reader);
        await pipeline.CompleteAsync().Within();

        Assert.That(fed, Is.EqualTo(10));
        Assert.That((await reading.Within()).Order(), Is.EqualTo(Enumerable.Range(0, 10).Select(i => i * i)));

        static async IAsyncEnumerable<int> Range(int start, int count)
        {
            for (int i = start; i < start + count; i++)
            {
                await Task.Yield();
                yield return i;
            }
        }
    }
}
