using Engine.Loops;
using Engine.Tests.Support;
using Microsoft.Extensions.Time.Testing;

namespace Engine.Tests.Loops;

public class PeriodicLoopLifecycleTests
{
    /// <summary>
    /// Seeded rounds of <see cref="PeriodicLoop.StopAsync"/>, <see cref="PeriodicLoop.DisposeAsync"/> and
    /// <see cref="PeriodicLoop.TriggerNow"/> called together from several threads, on a loop that may be
    /// running its job: none of them throws, and every one returns once the loop has ended.
    /// </summary>
    [Test]
    public async Task Stop_and_dispose_racing_each_other_never_throw([Values(31, 32)] int seed)
    {
        var random = new Random(seed);
        var failures = new List<string>();
        for (int round = 0; round < 1_500; round++)
        {
            var time = new FakeTimeProvider();
            int runs = 0;
            PeriodicLoop loop = PeriodicLoop.Start(
                new PeriodicLoopOptions { Name = "race", Interval = TimeSpan.FromSeconds(1), RunAtStart = random.Next(2) == 0, TimeProvider = time },
                async ct =>
                {
                    Interlocked.Increment(ref runs);
                    await Task.Yield();
                    return new LoopRun(1, 0);
                });

            int callers = random.Next(2, 6);
            int[] calls = [.. Enumerable.Range(0, callers).Select(_ => random.Next(3))];
            int[] spins = [.. Enumerable.Range(0, callers).Select(_ => random.Next(0, 400))];
            using var start = new Barrier(callers);
            Task[] racing = [.. Enumerable.Range(0, callers).Select(c => Task.Run(async () =>
            {
                start.SignalAndWait();
                Thread.SpinWait(spins[c]);
                switch (calls[c])
                {
                    case 0:
                        await loop.StopAsync();
                        break;
                    case 1:
                        await loop.DisposeAsync();
                        break;
                    default:
                        loop.TriggerNow();
                        await loop.DisposeAsync();
                        break;
                }
            }))];

            try
            {
                await Task.WhenAll(racing).Within();
            }
            catch (Exception e)
            {
                failures.Add($"round {round} ({string.Join(",", calls)}): {e.GetType().Name}: {e.Message}");
            }

            await loop.DisposeAsync();
            Assert.That(loop.GetMetrics().Running, Is.Zero, $"seed {seed}, round {round}: a run outlived the stop");
        }

        Assert.That(failures, Is.Empty, $"seed {seed}");
    }
}
