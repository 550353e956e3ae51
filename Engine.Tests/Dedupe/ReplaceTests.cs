using System.Collections.Concurrent;
using Engine.Dedupe;
using Engine.Stages;
using Engine.Tests.Support;

namespace Engine.Tests.Dedupe;

/// <summary>
/// Replace-pending and in-flight collapse. Items are "key:version" strings keyed by the part before
/// the colon; a gate holds the item "x:0" in its handler so the others wait.
/// </summary>
public class ReplaceTests
{
    private sealed class Harness : IAsyncDisposable
    {
        public Gate Gate { get; } = new();

        public ConcurrentQueue<string> Processed { get; } = new();

        public ConcurrentQueue<(string Item, SupersedeReason Reason)> Superseded { get; } = new();

        public Stage<string> Stage { get; }

        public Harness(int capacity = 8, int workers = 1, StageFullMode mode = StageFullMode.Wait, Func<string, string, string>? merge = null, Func<string, Engine.Routing.ItemKey>? dedupeKey = null)
        {
            Stage = Engine.Stages.Stage.Create(
                new StageOptions<string>
                {
                    Name = "dedupe",
                    Shards = 1,
                    Capacity = capacity,
                    WorkersPerShard = workers,
                    FullMode = mode,
                    KeySelector = s => s.Split(':')[0],
                    Dedupe = new DedupeOptions<string>
                    {
                        Mode = DedupeMode.Replace,
                        Merge = merge,
                        KeySelector = dedupeKey,
                        OnSuperseded = (item, reason) => Superseded.Enqueue((item, reason)),
                    },
                },
                async (item, ct) =>
                {
                    if (item.StartsWith("x:", StringComparison.Ordinal))
                    {
                        await Gate.PassAsync(ct);
                    }

                    Processed.Enqueue(item);
                });
        }

        public async Task BlockWorkerAsync()
        {
            Assert.That(Stage.TryWrite("x:0"), Is.True);
            await Gate.StartedAsync();
        }

        public async Task<StageCounts> DrainAsync()
        {
            Gate.Open();
            Stage.Complete();
            await Stage.Completion.Within();
            StageCounts counts = Stage.GetCounts();
            Assert.That(counts.IsConserved && counts.Pending == 0, Is.True, counts.ToString());
            Assert.That(counts.Accepted, Is.EqualTo(counts.Processed + counts.DeadLettered + counts.Dropped + counts.Superseded + counts.Abandoned));
            return counts;
        }

        public ValueTask DisposeAsync() => Stage.DisposeAsync();
    }

    [Test]
    public async Task A_write_whose_key_is_waiting_replaces_it_in_its_queue_position()
    {
        await using var h = new Harness();
        await h.BlockWorkerAsync();
        await h.Stage.WriteAsync("a:1");
        await h.Stage.WriteAsync("b:1");
        await h.Stage.WriteAsync("a:2");

        StageCounts counts = await h.DrainAsync();
        Assert.Multiple(() =>
        {
            Assert.That(h.Processed, Is.EqualTo(new[] { "x:0", "a:2", "b:1" }), "a:2 ran in a:1's place, before b:1");
            Assert.That(h.Superseded, Is.EqualTo(new[] { ("a:1", SupersedeReason.Pending) }));
            Assert.That(counts.SupersededPending, Is.EqualTo(1));
            Assert.That(counts.Accepted, Is.EqualTo(4));
        });
    }

    [Test]
    public async Task A_replace_takes_no_capacity_and_is_never_dropped_or_refused()
    {
        await using var h = new Harness(capacity: 2, mode: StageFullMode.Reject);
        await h.BlockWorkerAsync();
        Assert.Multiple(() =>
        {
            Assert.That(h.Stage.TryWrite("a:1"), Is.True);
            Assert.That(h.Stage.TryWrite("b:1"), Is.True);
            Assert.That(h.Stage.TryWrite("c:1"), Is.False, "a new key meets the full mode");
            Assert.That(h.Stage.TryWrite("a:2"), Is.True, "a waiting key is replaced although the shard is full");
            Assert.That(h.Stage.TryWrite("b:2"), Is.True);
        });

        StageCounts counts = await h.DrainAsync();
        Assert.Multiple(() =>
        {
            Assert.That(h.Processed, Is.EqualTo(new[] { "x:0", "a:2", "b:2" }));
            Assert.That(counts.Refused, Is.EqualTo(1));
            Assert.That(counts.Dropped, Is.Zero);
            Assert.That(counts.SupersededPending, Is.EqualTo(2));
        });
    }

    [Test]
    public async Task A_merge_function_combines_the_waiting_item_with_the_newer_one()
    {
        await using var h = new Harness(merge: (waiting, incoming) => waiting + "+" + incoming.Split(':')[1]);
        await h.BlockWorkerAsync();
        await h.Stage.WriteAsync("a:1");
        await h.Stage.WriteAsync("a:2");
        await h.Stage.WriteAsync("a:3");

        StageCounts counts = await h.DrainAsync();
        Assert.Multiple(() =>
        {
            Assert.That(h.Processed, Is.EqualTo(new[] { "x:0", "a:1+2+3" }));
            Assert.That(h.Superseded, Is.EqualTo(new[] { ("a:1", SupersedeReason.Merged), ("a:1+2", SupersedeReason.Merged) }));
            Assert.That(counts.SupersededMerged, Is.EqualTo(2));
        });
    }

    [Test]
    public async Task A_throwing_merge_fails_the_write_and_keeps_the_waiting_item()
    {
        await using var h = new Harness(merge: (_, incoming) => incoming == "a:bad" ? throw new FormatException("no") : incoming);
        await h.BlockWorkerAsync();
        await h.Stage.WriteAsync("a:1");
        var error = Assert.ThrowsAsync<ArgumentException>(async () => await h.Stage.WriteAsync("a:bad"));
        Assert.That(error!.Message, Does.Contain("Dedupe.Merge"));

        StageCounts counts = await h.DrainAsync();
        Assert.Multiple(() =>
        {
            Assert.That(h.Processed, Is.EqualTo(new[] { "x:0", "a:1" }));
            Assert.That(counts.Refused, Is.EqualTo(1));
        });
    }

    [Test]
    public async Task Items_without_a_dedupe_key_are_plain_fifo()
    {
        await using var h = new Harness(dedupeKey: s => s.EndsWith('!') ? default : s.Split(':')[0]);
        await h.BlockWorkerAsync();
        await h.Stage.WriteAsync("a:1!");
        await h.Stage.WriteAsync("a:2!");
        await h.Stage.WriteAsync("a:3");
        await h.Stage.WriteAsync("a:4");

        StageCounts counts = await h.DrainAsync();
        Assert.Multiple(() =>
        {
            Assert.That(h.Processed, Is.EqualTo(new[] { "x:0", "a:1!", "a:2!", "a:4" }));
            Assert.That(counts.SupersededPending, Is.EqualTo(1));
        });
    }

    [Test]
    public async Task A_dedupe_key_that_spans_routing_keys_fails_the_write_naming_the_option()
    {
        await using var h = new Harness(dedupeKey: s => s.Split(':')[1]);
        await h.BlockWorkerAsync();
        await h.Stage.WriteAsync("a:1");
        var error = Assert.ThrowsAsync<ArgumentException>(async () => await h.Stage.WriteAsync("b:1"));
        Assert.That(error!.Message, Does.Contain("Dedupe.KeySelector").And.Contain("refine"));
        await h.DrainAsync();
    }

    [Test]
    public async Task The_dedupe_dictionary_size_is_observable()
    {
        await using var h = new Harness();
        await h.BlockWorkerAsync();
        await h.Stage.WriteAsync("a:1");
        await h.Stage.WriteAsync("b:1");
        await h.Stage.WriteAsync("a:2");
        Assert.That(h.Stage.GetCounts().DedupeWaitingKeys, Is.EqualTo(2));
        await h.DrainAsync();
        Assert.That(h.Stage.GetCounts().DedupeWaitingKeys, Is.Zero);
    }

    [TestCase(1)]
    [TestCase(4)]
    public async Task Writes_while_the_key_is_processing_collapse_into_one_run_after_it(int workers)
    {
        var gate = new Gate();
        var processed = new ConcurrentQueue<string>();
        int running = 0;
        int overlaps = 0;
        await using var stage = Stage.Create(
            new StageOptions<string>
            {
                Name = "collapse",
                Shards = 1,
                WorkersPerShard = workers,
                KeySelector = s => s.Split(':')[0],
                Dedupe = new DedupeOptions<string> { Mode = DedupeMode.Replace },
            },
            async (item, ct) =>
            {
                if (Interlocked.Increment(ref running) > 1)
                {
                    Interlocked.Increment(ref overlaps);
                }

                if (item == "a:1")
                {
                    await gate.PassAsync(ct);
                }

                processed.Enqueue(item);
                Interlocked.Decrement(ref running);
            });

        await stage.WriteAsync("a:1");
        await gate.StartedAsync();
        for (int v = 2; v <= 9; v++)
        {
            await stage.WriteAsync("a:" + v);
        }

        Assert.That(stage.GetCounts().Waiting, Is.EqualTo(1), "eight writes held back as one");
        gate.Open();
        stage.Complete();
        await stage.Completion.Within();

        StageCounts counts = stage.GetCounts();
        Assert.Multiple(() =>
        {
            Assert.That(processed, Is.EqualTo(new[] { "a:1", "a:9" }));
            Assert.That(overlaps, Is.Zero);
            Assert.That(counts.SupersededInFlight, Is.EqualTo(7));
            Assert.That(counts.Accepted, Is.EqualTo(9));
            Assert.That(counts.IsConserved && counts.Pending == 0, Is.True);
        });
    }
}
