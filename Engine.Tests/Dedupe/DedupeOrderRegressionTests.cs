using System.Collections.Concurrent;
using Engine.Dedupe;
using Engine.Routing;
using Engine.Stages;
using Engine.Tests.Support;

namespace Engine.Tests.Dedupe;

/// <summary>Orderings a review found broken in an earlier shape of the dedupe write path.</summary>
public class DedupeOrderRegressionTests
{
    [Test]
    public async Task A_finer_dedupe_key_keeps_the_routing_key_s_order_while_the_key_runs()
    {
        // Items "acct/field:v": routing key acct, dedupe key acct/field.
        var first = new Gate();
        var second = new Gate();
        var processed = new ConcurrentQueue<string>();
        await using var stage = Stage.Create(
            new StageOptions<string>
            {
                Name = "order",
                Shards = 1,
                KeySelector = s => s.Split('/')[0],
                Dedupe = new DedupeOptions<string> { Mode = DedupeMode.Replace, KeySelector = s => (ItemKey)s.Split(':')[0] },
            },
            async (s, ct) =>
            {
                if (s == "b/x:1")
                {
                    await first.PassAsync(ct);
                }

                if (s == "a/f1:1")
                {
                    await second.PassAsync(ct);
                }

                processed.Enqueue(s);
            });

        await stage.WriteAsync("b/x:1");
        await first.StartedAsync();
        await stage.WriteAsync("a/f1:1");
        await stage.WriteAsync("a/f2:1");
        first.Open();
        await second.StartedAsync();
        await stage.WriteAsync("a/f3:1");
        second.Open();
        stage.Complete();
        await stage.Completion.Within();
        Assert.That(processed, Is.EqualTo(new[] { "b/x:1", "a/f1:1", "a/f2:1", "a/f3:1" }));
    }

    [Test]
    public async Task Concurrent_writers_of_one_key_never_leave_an_older_value_to_run_last()
    {
        for (int run = 0; run < 200; run++)
        {
            var gate = new Gate();
            var processed = new ConcurrentQueue<string>();
            await using var stage = Stage.Create(
                new StageOptions<string>
                {
                    Name = "race",
                    Shards = 1,
                    KeySelector = s => s.Split(':')[0],
                    Dedupe = new DedupeOptions<string> { Mode = DedupeMode.Replace },
                },
                async (s, ct) =>
                {
                    if (s == "x:0")
                    {
                        await gate.PassAsync(ct);
                    }

                    processed.Enqueue(s);
                });
            stage.TryWrite("x:0");
            await gate.StartedAsync();
            using var barrier = new Barrier(2);
            Task one = Task.Run(() => { barrier.SignalAndWait(); stage.TryWrite("a:1"); });
            Task two = Task.Run(() => { barrier.SignalAndWait(); stage.TryWrite("a:2"); });
            await Task.WhenAll(one, two).Within();
            stage.TryWrite("a:3");
            gate.Open();
            stage.Complete();
            await stage.Completion.Within();
            Assert.That(processed.Last(p => p.StartsWith("a:", StringComparison.Ordinal)), Is.EqualTo("a:3"), "run " + run);
        }
    }
}
