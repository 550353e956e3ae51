using Engine.Internal;
using Engine.Tests.Support;

namespace Engine.Tests.Pipelines;

/// <summary>The striped counter behind a node's emitted count: exact under concurrent bumps, never decreasing while they go on.</summary>
public class StripedCounterTests
{
    [Test]
    public async Task Concurrent_increments_are_all_counted_and_reads_never_go_back()
    {
        const int threads = 8;
        const int each = 50_000;
        var counter = new StripedCounter();
        using var start = new Barrier(threads + 1);
        Task[] bumpers = Enumerable.Range(0, threads).Select(_ => Task.Factory.StartNew(
            () =>
            {
                start.SignalAndWait(TestWait.Patience);
                for (int i = 0; i < each; i++)
                {
                    counter.Increment();
                }
            },
            CancellationToken.None,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default)).ToArray();

        start.SignalAndWait(TestWait.Patience);
        long previous = 0;
        while (!bumpers.All(b => b.IsCompleted))
        {
            long now = counter.Read();
            Assert.That(now, Is.GreaterThanOrEqualTo(previous));
            previous = now;
        }

        await Task.WhenAll(bumpers).Within();
        Assert.That(counter.Read(), Is.EqualTo((long)threads * each));
    }
}
