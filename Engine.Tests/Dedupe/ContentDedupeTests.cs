using System.Collections.Concurrent;
using Engine.Dedupe;
using Engine.Stages;
using Engine.Tests.Support;

namespace Engine.Tests.Dedupe;

/// <summary>Content dedupe: skip an item identical to its key's last successfully processed one.</summary>
public class ContentDedupeTests
{
    private readonly record struct State(string Key, string Content, int Version, bool Delete = false, bool Fail = false);

    /// <summary>Released once per settled item (processed, skipped or dead-lettered), so a test can write one item at a time.</summary>
    private SemaphoreSlim _settled = null!;

    [SetUp]
    public void CreateSignal() => _settled = new SemaphoreSlim(0);

    [TearDown]
    public void DisposeSignal() => _settled.Dispose();

    private (Stage<State> Stage, ConcurrentQueue<State> Processed, ConcurrentQueue<(State, SupersedeReason)> Superseded) Create(int maxTrackedKeys = 1000, DedupeMode mode = DedupeMode.None)
    {
        SemaphoreSlim settled = _settled;
        var processed = new ConcurrentQueue<State>();
        var superseded = new ConcurrentQueue<(State, SupersedeReason)>();
        Stage<State> stage = Stage.Create(
            new StageOptions<State>
            {
                Name = "content",
                Shards = 1,
                KeySelector = s => s.Key,
                Dedupe = new DedupeOptions<State>
                {
                    Mode = mode,
                    ContentHash = s => (ulong)StringComparer.Ordinal.GetHashCode(s.Content),
                    IsTombstone = s => s.Delete,
                    MaxTrackedKeys = maxTrackedKeys,
                    OnSuperseded = (s, reason) => { superseded.Enqueue((s, reason)); settled.Release(); },
                },
                OnDeadLetter = (_, _) => settled.Release(),
            },
            (State s, CancellationToken _) =>
            {
                if (s.Fail)
                {
                    throw new InvalidDataException("permanent");
                }

                processed.Enqueue(s);
                settled.Release();
            });
        return (stage, processed, superseded);
    }

    /// <summary>Writes one item and waits until it has settled (one worker, one key: the next item starts only after it).</summary>
    private async Task SettleAsync(Stage<State> stage, State item)
    {
        await stage.WriteAsync(item);
        Assert.That(await _settled.WaitAsync(TestWait.Patience), Is.True, "the item never settled: " + stage.GetCounts());
    }

    [Test]
    public async Task An_update_identical_to_the_last_processed_one_is_skipped()
    {
        var (stage, processed, superseded) = Create();
        await SettleAsync(stage, new State("a", "red", 1));
        await SettleAsync(stage, new State("a", "red", 2));
        await SettleAsync(stage, new State("a", "blue", 3));
        await SettleAsync(stage, new State("a", "red", 4));
        await stage.StopAsync(Timeout.InfiniteTimeSpan);

        Assert.Multiple(() =>
        {
            Assert.That(processed.Select(s => s.Version), Is.EqualTo(new[] { 1, 3, 4 }));
            Assert.That(superseded, Is.EqualTo(new[] { (new State("a", "red", 2), SupersedeReason.Content) }));
            Assert.That(stage.GetCounts().SupersededContent, Is.EqualTo(1));
        });
    }

    [Test]
    public async Task Content_is_compared_when_the_item_runs_so_an_update_behind_a_different_one_is_not_lost()
    {
        var (stage, processed, _) = Create();
        await SettleAsync(stage, new State("a", "red", 1));

        // Written together: at write time "red" equals the last processed content, but by the time it
        // runs "blue" has been processed, so it must run.
        await stage.WriteAsync(new State("a", "blue", 2));
        await stage.WriteAsync(new State("a", "red", 3));
        await stage.StopAsync(Timeout.InfiniteTimeSpan);
        Assert.That(processed.Select(s => s.Version), Is.EqualTo(new[] { 1, 2, 3 }));
    }

    [Test]
    public async Task A_tombstone_always_runs_and_clears_the_key()
    {
        var (stage, processed, _) = Create();
        await SettleAsync(stage, new State("a", "red", 1));
        await SettleAsync(stage, new State("a", "red", 2, Delete: true));
        await SettleAsync(stage, new State("a", "red", 3));
        await stage.StopAsync(Timeout.InfiniteTimeSpan);
        Assert.That(processed.Select(s => s.Version), Is.EqualTo(new[] { 1, 2, 3 }));
    }

    [Test]
    public async Task A_dead_lettered_item_clears_its_key_so_a_later_identical_update_runs_again()
    {
        var (stage, processed, _) = Create();
        await SettleAsync(stage, new State("a", "red", 1));
        await SettleAsync(stage, new State("a", "blue", 2, Fail: true));
        await SettleAsync(stage, new State("a", "red", 3));
        await stage.StopAsync(Timeout.InfiniteTimeSpan);

        Assert.Multiple(() =>
        {
            Assert.That(processed.Select(s => s.Version), Is.EqualTo(new[] { 1, 3 }), "version 3 is not skipped as a copy of version 1");
            Assert.That(stage.GetCounts().DeadLettered, Is.EqualTo(1));
        });
    }

    [Test]
    public async Task Remembered_keys_are_bounded_with_least_recently_used_eviction()
    {
        var (stage, processed, _) = Create(maxTrackedKeys: 2);
        await SettleAsync(stage, new State("k1", "same", 1));
        await SettleAsync(stage, new State("k2", "same", 1));
        await SettleAsync(stage, new State("k3", "same", 1));
        await SettleAsync(stage, new State("k1", "same", 2));
        await SettleAsync(stage, new State("k1", "same", 3));
        await stage.StopAsync(Timeout.InfiniteTimeSpan);

        StageCounts counts = stage.GetCounts();
        Assert.Multiple(() =>
        {
            Assert.That(counts.ContentTrackedKeys, Is.EqualTo(2));
            Assert.That(processed.Select(s => s.Key + s.Version), Is.EqualTo(new[] { "k11", "k21", "k31", "k12" }), "k1 was forgotten, so its copy ran once; the next copy is skipped");
            Assert.That(counts.SupersededContent, Is.EqualTo(1));
            Assert.That(counts.ContentEvictions, Is.EqualTo(2), "k1 for k3, then k2 for k1");
        });
    }
}
