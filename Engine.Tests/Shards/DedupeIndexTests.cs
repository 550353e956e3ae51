using Engine.Routing;
using Engine.Shards;

namespace Engine.Tests.Shards;

/// <summary>The dedupe index alone: what a write may replace, what counts as a content duplicate, and the slot pool.</summary>
public class DedupeIndexTests
{
    private readonly Lock _lock = new();

    private static DedupeWrite<string> Write(string item, ItemKey key, ulong? hash = null, bool tombstone = false) =>
        new(item, key, key, hash ?? 0, hash is not null, tombstone);

    [Test]
    public void A_registered_slot_is_what_a_newer_write_of_its_key_replaces_until_it_is_taken()
    {
        var index = new DedupeIndex<string>(_lock, replace: true, trackedKeys: 0);
        lock (_lock)
        {
            DedupeSlot<string> slot = index.Rent(Write("v1", "k"));
            Assert.That(index.TryGetWaiting("k", out _), Is.False, "not replaceable before it is registered");

            index.Register(slot);
            Assert.Multiple(() =>
            {
                Assert.That(index.TryGetWaiting("k", out DedupeSlot<string>? waiting), Is.True);
                Assert.That(waiting, Is.SameAs(slot));
                Assert.That(index.WaitingKeys, Is.EqualTo(1));
            });

            index.Unregister(slot);
            Assert.That(index.TryGetWaiting("k", out _), Is.False, "a taken slot is no longer replaceable");
        }
    }

    [Test]
    public void Unregistering_an_older_slot_leaves_the_newer_one_of_its_key()
    {
        var index = new DedupeIndex<string>(_lock, replace: true, trackedKeys: 0);
        lock (_lock)
        {
            DedupeSlot<string> older = index.Rent(Write("v1", "k"));
            index.Register(older);
            DedupeSlot<string> newer = index.Rent(Write("v2", "k"));
            index.Register(newer);

            index.Unregister(older);
            Assert.Multiple(() =>
            {
                Assert.That(index.TryGetWaiting("k", out DedupeSlot<string>? waiting), Is.True);
                Assert.That(waiting, Is.SameAs(newer));
            });
        }
    }

    [Test]
    public void Without_replace_mode_or_for_an_unkeyed_item_nothing_is_replaceable()
    {
        var plain = new DedupeIndex<string>(_lock, replace: false, trackedKeys: 0);
        var replacing = new DedupeIndex<string>(_lock, replace: true, trackedKeys: 0);
        lock (_lock)
        {
            plain.Register(plain.Rent(Write("v", "k")));
            replacing.Register(replacing.Rent(Write("v", ItemKey.None)));
            Assert.Multiple(() =>
            {
                Assert.That(plain.TryGetWaiting("k", out _), Is.False);
                Assert.That(replacing.TryGetWaiting(ItemKey.None, out _), Is.False);
                Assert.That(replacing.WaitingKeys, Is.Zero);
            });
        }
    }

    [Test]
    public void An_item_equal_to_its_key_s_last_processed_content_is_a_duplicate_and_a_deletion_never_is()
    {
        var index = new DedupeIndex<string>(_lock, replace: true, trackedKeys: 16);
        lock (_lock)
        {
            DedupeSlot<string> first = index.Rent(Write("v1", "k", hash: 7));
            Assert.That(index.IsContentDuplicate(first), Is.False, "nothing processed yet");
            index.Settled(first, succeeded: true);
            index.Return(first);

            DedupeSlot<string> same = index.Rent(Write("v1 again", "k", hash: 7));
            DedupeSlot<string> other = index.Rent(Write("v2", "k", hash: 8));
            DedupeSlot<string> deletion = index.Rent(Write("gone", "k", hash: 7, tombstone: true));
            DedupeSlot<string> noHash = index.Rent(Write("?", "k"));
            Assert.Multiple(() =>
            {
                Assert.That(index.IsContentDuplicate(same), Is.True);
                Assert.That(index.IsContentDuplicate(other), Is.False);
                Assert.That(index.IsContentDuplicate(deletion), Is.False);
                Assert.That(index.IsContentDuplicate(noHash), Is.False);
                Assert.That(index.TrackedKeys, Is.EqualTo(1));
            });
        }
    }

    [Test]
    public void A_dead_letter_or_a_deletion_clears_its_key_s_content_so_an_identical_update_runs_again()
    {
        var index = new DedupeIndex<string>(_lock, replace: true, trackedKeys: 16);
        lock (_lock)
        {
            DedupeSlot<string> processed = index.Rent(Write("v1", "a", hash: 1));
            index.Settled(processed, succeeded: true);
            DedupeSlot<string> failed = index.Rent(Write("v1", "a", hash: 1));
            index.Settled(failed, succeeded: false);
            Assert.That(index.IsContentDuplicate(index.Rent(Write("v1", "a", hash: 1))), Is.False, "after a dead letter");

            DedupeSlot<string> kept = index.Rent(Write("v1", "b", hash: 2));
            index.Settled(kept, succeeded: true);
            DedupeSlot<string> deleted = index.Rent(Write("gone", "b", hash: 2, tombstone: true));
            index.Settled(deleted, succeeded: true);
            Assert.That(index.IsContentDuplicate(index.Rent(Write("v1", "b", hash: 2))), Is.False, "after a deletion");
        }
    }

    [Test]
    public void A_returned_slot_is_cleared_and_rented_again()
    {
        var index = new DedupeIndex<string>(_lock, replace: true, trackedKeys: 0);
        lock (_lock)
        {
            DedupeSlot<string> slot = index.Rent(Write("v1", "k"));
            index.Return(slot);
            Assert.Multiple(() =>
            {
                Assert.That(slot.State, Is.EqualTo(SlotState.Free));
                Assert.That(slot.Item, Is.Null);
            });

            DedupeSlot<string> again = index.Rent(Write("v2", "j"));
            Assert.Multiple(() =>
            {
                Assert.That(again, Is.SameAs(slot));
                Assert.That(again.Item, Is.EqualTo("v2"));
                Assert.That(again.State, Is.EqualTo(SlotState.InChannel));
            });
        }
    }

    [Test]
    public void An_abort_forgets_every_replaceable_slot()
    {
        var index = new DedupeIndex<string>(_lock, replace: true, trackedKeys: 0);
        lock (_lock)
        {
            index.Register(index.Rent(Write("a", "a")));
            index.Register(index.Rent(Write("b", "b")));
            index.ForgetWaiting();
            Assert.That(index.WaitingKeys, Is.Zero);
        }
    }
}
