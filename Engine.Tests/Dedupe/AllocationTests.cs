using Engine.Dedupe;
using Engine.Stages;
using Engine.Tests.Support;

namespace Engine.Tests.Dedupe;

/// <summary>Allocation is counted, not timed: these checks are deterministic.</summary>
public class AllocationTests
{
    private sealed record Update(string Key, int Version);

    [Test]
    public async Task Replacing_a_waiting_item_allocates_nothing()
    {
        var gate = new Gate();
        await using var stage = Stage.Create(
            new StageOptions<Update>
            {
                Name = "alloc",
                Shards = 1,
                KeySelector = u => u.Key,
                Dedupe = new DedupeOptions<Update> { Mode = DedupeMode.Replace },
            },
            async (u, ct) => { if (u.Key == "block") { await gate.PassAsync(ct); } });

        stage.TryWrite(new Update("block", 0));
        await gate.StartedAsync();
        var updates = Enumerable.Range(1, 1000).Select(v => new Update("hot", v)).ToArray();
        stage.TryWrite(updates[0]);
        stage.TryWrite(updates[1]);

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 2; i < updates.Length; i++)
        {
            stage.TryWrite(updates[i]);
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        gate.Open();
        StageCounts counts = await stage.StopAsync(Timeout.InfiniteTimeSpan).Within();
        Assert.Multiple(() =>
        {
            Assert.That(allocated, Is.Zero, "bytes allocated by 998 replaces");
            Assert.That(counts.SupersededPending, Is.EqualTo(999));
            Assert.That(counts.Processed, Is.EqualTo(2));
        });
    }
}
