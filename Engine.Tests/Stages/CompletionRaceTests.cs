using Engine.Stages;
using Engine.Tests.Support;

namespace Engine.Tests.Stages;

/// <summary>
/// Completing a stage while its loops are exiting: whichever of the two comes last must finish the
/// shard. Each side sets its own flag and then reads the other's; without a full fence on both sides
/// both could read the other's old value, and <c>Completion</c> would never complete (a benchmark
/// hung that way once: nothing outstanding, no loop, the channel closed, the shard not finished).
/// </summary>
public class CompletionRaceTests
{
    [TestCase(false)]
    [TestCase(true)]
    public async Task A_stage_completed_while_its_loops_exit_always_completes(bool metrics)
    {
        int rounds = Environment.GetEnvironmentVariable("CI") == "true" ? 400 : 100;
        const int stages = 64;
        for (int round = 0; round < rounds; round++)
        {
            var all = new Task[stages];
            for (int s = 0; s < stages; s++)
            {
                all[s] = Task.Run(async () =>
                {
                    await using var stage = Stage.Create(
                        new StageOptions<int> { Name = "race", Shards = 1, Metrics = metrics, KeySelector = i => i },
                        (int _, CancellationToken _) => { });
                    await stage.WriteAsync(1);

                    // The loop drains its one item and exits while the stage completes.
                    stage.Complete();
                    await stage.Completion.Within();
                    Assert.That(stage.GetCounts().Processed, Is.EqualTo(1));
                });
            }

            await Task.WhenAll(all);
        }
    }
}
