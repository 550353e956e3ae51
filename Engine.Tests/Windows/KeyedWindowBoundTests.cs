using Engine.Pipelines;
using Engine.Tests.Support;
using Engine.Windows;
using Microsoft.Extensions.Time.Testing;

namespace Engine.Tests.Windows;

/// <summary>The bound on open windows holds however many keys pass through.</summary>
public class KeyedWindowBoundTests
{
    [Test]
    public async Task A_million_distinct_keys_never_hold_more_than_the_bound_open()
    {
        const int Keys = 1_000_000;
        const int Bound = 1_000;
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        long received = 0;
        await using Pipeline<long> pipeline = Pipeline.Create<long>("million", time, metrics: false)
            .TumblingWindow<long>("count", TimeSpan.FromHours(1), () => 0, (n, _) => n + 1, o =>
            {
                o.Stage.KeySelector = k => k;
                o.Stage.Shards = 4;
                o.MaxOpenWindows = Bound;
                o.FullMode = WindowFullMode.FlushOldest;
            })
            .Sink("out", (_, _) => { Interlocked.Increment(ref received); return default; }, o => o.Shards = 2)
            .Build();

        for (long key = 0; key < Keys; key++)
        {
            await pipeline.WriteAsync(key);
        }

        WindowCounts running = pipeline.GetCounts().WindowsOf("count");
        await pipeline.CompleteAsync().Within();
        WindowCounts done = pipeline.GetCounts().WindowsOf("count");
        Assert.Multiple(() =>
        {
            Assert.That(running.Open, Is.LessThanOrEqualTo(Bound));
            Assert.That(running.Closing, Is.LessThanOrEqualTo((2 * Bound) + 8), "closed windows on their way out are bounded too");
            Assert.That(done.PeakOpen, Is.EqualTo(Bound), "every shard reached its share and no more");
            Assert.That(done.EarlyFlushes, Is.EqualTo(Keys - Bound));
            Assert.That(done.CompletionFlushes, Is.EqualTo(Bound));
            Assert.That(done.Emitted, Is.EqualTo(Keys));
            Assert.That(Interlocked.Read(ref received), Is.EqualTo(Keys));
            Assert.That(done.IsConserved && done.Folded == Keys, Is.True);
        });
    }
}
