using Engine.Routing;
using Engine.Shards;

namespace Engine.Tests.Shards;

/// <summary>The key scheduler alone: claiming keys, parking behind a busy key, promotion in order, and an abort's sweep.</summary>
public class KeySchedulerTests
{
    private readonly Lock _lock = new();

    private static Envelope<int> Item(int value, ItemKey key) => new(value, key, 0, 0);

    [Test]
    public void A_free_key_is_claimed_and_a_busy_key_s_items_are_parked_in_order()
    {
        var scheduler = new KeyScheduler<int>(_lock, trackKeys: true);
        lock (_lock)
        {
            Assert.That(scheduler.TryClaim(Item(1, "a"), out _), Is.True);
            Assert.That(scheduler.TryClaim(Item(2, "a"), out KeyState<int>? busy), Is.False);
            Assert.That(scheduler.TryClaim(Item(3, "a"), out _), Is.False);
            Assert.That(scheduler.TryClaim(Item(4, "b"), out _), Is.True, "another key is not held back");
            Assert.Multiple(() =>
            {
                Assert.That(busy!.Backlog.Select(e => e.Item), Is.EqualTo(new[] { 2, 3 }));
                Assert.That(scheduler.Parked, Is.EqualTo(2));
                Assert.That(scheduler.BusyKeys, Is.EqualTo(2));
                Assert.That(scheduler.IsBusy("a"), Is.True);
            });
        }
    }

    [Test]
    public void A_key_claimed_after_its_run_began_is_busy_and_parks_its_later_items()
    {
        var scheduler = new KeyScheduler<int>(_lock, trackKeys: true);
        lock (_lock)
        {
            Assert.That(scheduler.BusyKeys, Is.Zero, "a shard that claims on demand reads this without the lock");
            scheduler.ClaimFree("a");
            Assert.That(scheduler.BusyKeys, Is.EqualTo(1));
            Assert.That(scheduler.TryClaim(Item(2, "a"), out _), Is.False, "the retry's key holds its later items back");
            Assert.That(scheduler.Release("a"), Is.True, "the parked item is promoted when the retry settles");
            Assert.That(scheduler.Release("a"), Is.False);
            Assert.That(scheduler.BusyKeys, Is.Zero);
        }
    }

    [Test]
    public void Releasing_a_key_promotes_its_next_item_and_keeps_it_busy_until_its_backlog_is_empty()
    {
        var scheduler = new KeyScheduler<int>(_lock, trackKeys: true);
        lock (_lock)
        {
            scheduler.TryClaim(Item(1, "a"), out _);
            scheduler.TryClaim(Item(2, "a"), out _);
            scheduler.TryClaim(Item(3, "a"), out _);

            var ran = new List<int>();
            while (true)
            {
                bool promoted = scheduler.Release("a");
                if (!promoted)
                {
                    break;
                }

                Assert.That(scheduler.IsBusy("a"), Is.True, "the key stays busy for its promoted item");
                Assert.That(scheduler.TryDequeueReady(out Envelope<int> next), Is.True);
                ran.Add(next.Item);
            }

            Assert.Multiple(() =>
            {
                Assert.That(ran, Is.EqualTo(new[] { 2, 3 }));
                Assert.That(scheduler.IsBusy("a"), Is.False);
                Assert.That(scheduler.Parked, Is.Zero);
                Assert.That(scheduler.ReadyCount, Is.Zero);
            });
        }
    }

    [Test]
    public void Releasing_a_key_drops_its_pending_retry_and_a_free_key_s_release_does_nothing()
    {
        var scheduler = new KeyScheduler<int>(_lock, trackKeys: true);
        lock (_lock)
        {
            scheduler.TryClaim(Item(1, "a"), out _);
            KeyState<int> state = scheduler.Find("a")!;
            state.Retry = new PendingRetry<int>(null!, Item(1, "a"));
            scheduler.Release("a");
            Assert.Multiple(() =>
            {
                Assert.That(state.Retry, Is.Null);
                Assert.That(scheduler.Find("a"), Is.Null);
                Assert.That(scheduler.Release("nobody"), Is.False);
            });
        }
    }

    [Test]
    public void Ready_items_come_out_first_in_first_out()
    {
        var scheduler = new KeyScheduler<int>(_lock, trackKeys: false);
        lock (_lock)
        {
            scheduler.EnqueueReady(Item(1, "x"));
            scheduler.EnqueueReady(Item(2, "y"));
            Assert.That(scheduler.ReadyCount, Is.EqualTo(2));
            Assert.That(scheduler.TryDequeueReady(out Envelope<int> first) && first.Item == 1, Is.True);
            Assert.That(scheduler.TryDequeueReady(out Envelope<int> second) && second.Item == 2, Is.True);
            Assert.That(scheduler.TryDequeueReady(out _), Is.False);
        }
    }

    [Test]
    public void An_abort_removes_every_ready_and_parked_item_and_keeps_the_running_keys_busy()
    {
        var scheduler = new KeyScheduler<int>(_lock, trackKeys: true);
        lock (_lock)
        {
            scheduler.TryClaim(Item(1, "a"), out _);
            scheduler.TryClaim(Item(2, "a"), out _);
            scheduler.TryClaim(Item(3, "a"), out _);
            scheduler.EnqueueReady(Item(4, "b"));

            Assert.That(scheduler.RemoveWaiting(), Is.EqualTo(3));
            Assert.Multiple(() =>
            {
                Assert.That(scheduler.Parked, Is.Zero);
                Assert.That(scheduler.ReadyCount, Is.Zero);
                Assert.That(scheduler.IsBusy("a"), Is.True, "item 1 still runs and frees the key itself");
            });
            Assert.That(scheduler.Release("a"), Is.False, "nothing is left to promote");
        }
    }
}
