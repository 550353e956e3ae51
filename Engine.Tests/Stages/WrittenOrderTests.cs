
using Engine.Tests.Support;

namespace Engine.Tests.Stages;

/// <summary>
/// The ordering rule under every dedupe shape with writers that wait for room: of two items of one
/// key (of one dedupe key, where it is finer), if the first one's write returned before the second
/// one's began, every run of the first starts before any run of the second, unless the first was
/// superseded, dropped or abandoned and never ran. Thousands of seeded workloads (four times as many
/// with <c>CI=true</c>): capacities 1–3, 1–4 writers, 1–4 workers, retries, permanent failures and
/// every ending, some of them racing the writers.
/// </summary>
/// <remarks>
/// On the code before the fix of issue 22 this failed within the first few hundred seeds: a write that
/// waited for room entered the channel unregistered, behind a newer registered slot of its key that
/// another writer's write had put there while it waited; the writer's next write replaced that slot,
/// so it ran before the older item.
/// </remarks>
public class WrittenOrderTests
{
    private static readonly bool Ci = string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    private static int Seeds => Ci ? 8_000 : 2_000;

    [TestCase(0, QueueKind.Runtime)]
    [TestCase(1, QueueKind.Runtime)]
    [TestCase(0, QueueKind.Ring)]
    [TestCase(1, QueueKind.Ring)]
    public async Task A_write_that_returned_runs_before_every_write_that_began_after_it(int part, QueueKind queue)
    {
        // Two halves, so each test reports in reasonable time and a failure names its seed range.
        int from = part * Seeds / 2;
        int to = (part + 1) * Seeds / 2;
        for (int seed = from; seed < to; seed++)
        {
            var run = new StageTorture(seed, StageFullMode.Wait, queue.ToShardQueue());
            await run.RunAsync();
            string? violation = run.Log.FirstViolation();
            Assert.Multiple(() =>
            {
                Assert.That(violation, Is.Null, run.ToString());
                Assert.That(run.Counts.IsConserved, Is.True, $"{run}: {run.Counts}");
                Assert.That(run.Counts.Pending, Is.Zero, $"{run}: {run.Counts}");
            });
            if (violation is not null)
            {
                return;
            }
        }
    }
}
