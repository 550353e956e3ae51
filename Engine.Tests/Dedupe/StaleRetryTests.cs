using System.Collections.Concurrent;
using System.Threading.Channels;
using Engine.Dedupe;
using Engine.Retry;
using Engine.Stages;
using Engine.Tests.Support;

namespace Engine.Tests.Dedupe;

public class StaleRetryTests
{
    [Test]
    public async Task A_retry_whose_key_received_a_newer_item_is_superseded_by_it()
    {
        var time = new WatchedTimeProvider();
        var ran = Channel.CreateUnbounded<string>();
        var superseded = new ConcurrentQueue<(string, SupersedeReason)>();
        await using var stage = Stage.Create(
            new StageOptions<string>
            {
                Name = "stale",
                Shards = 1,
                KeySelector = s => s.Split(':')[0],
                TimeProvider = time,
                Retry = new RetryOptions { MaxAttempts = 5, BaseDelay = TimeSpan.FromSeconds(10), MaxDelay = TimeSpan.FromSeconds(10) },
                Dedupe = new DedupeOptions<string> { Mode = DedupeMode.Replace, OnSuperseded = (s, r) => superseded.Enqueue((s, r)) },
            },
            (string item, CancellationToken _) =>
            {
                ran.Writer.TryWrite(item);
                if (item == "a:1")
                {
                    throw new TimeoutException("transient");
                }
            });

        await stage.WriteAsync("a:1");
        Assert.That(await ran.Reader.ReadAsync().AsTask().Within(), Is.EqualTo("a:1"));
        await time.NextTimerAsync();

        await stage.WriteAsync("a:2");
        Assert.That(await ran.Reader.ReadAsync().AsTask().Within(), Is.EqualTo("a:2"), "the newer item runs without waiting for the stale retry's backoff");

        time.Advance(TimeSpan.FromMinutes(1));
        stage.Complete();
        await stage.Completion.Within();

        StageCounts counts = stage.GetCounts();
        Assert.Multiple(() =>
        {
            Assert.That(ran.Reader.TryRead(out string? extra), Is.False, "a:1 never ran again, but " + extra + " did");
            Assert.That(superseded, Is.EqualTo(new[] { ("a:1", SupersedeReason.StaleRetry) }));
            Assert.That(counts.SupersededStaleRetry, Is.EqualTo(1));
            Assert.That(counts.Processed, Is.EqualTo(1));
            Assert.That(counts.Retries, Is.EqualTo(1));
            Assert.That(counts.IsConserved && counts.Pending == 0, Is.True, counts.ToString());
        });
    }

    [Test]
    public async Task Without_replace_a_retry_is_not_stale_and_runs_before_the_newer_item()
    {
        var time = new WatchedTimeProvider();
        var ran = Channel.CreateUnbounded<string>();
        int failures = 0;
        await using var stage = Stage.Create(
            new StageOptions<string>
            {
                Name = "fifo",
                Shards = 1,
                KeySelector = s => s.Split(':')[0],
                TimeProvider = time,
                Retry = new RetryOptions { BaseDelay = TimeSpan.FromSeconds(10), MaxDelay = TimeSpan.FromSeconds(10), JitterRatio = 0 },
                Dedupe = new DedupeOptions<string> { ContentHash = s => (ulong)s.Length },
            },
            (string item, CancellationToken _) =>
            {
                ran.Writer.TryWrite(item);
                if (item == "a:1" && Interlocked.Increment(ref failures) == 1)
                {
                    throw new TimeoutException("transient");
                }
            });

        await stage.WriteAsync("a:1");
        await ran.Reader.ReadAsync().AsTask().Within();
        await time.NextTimerAsync();
        await stage.WriteAsync("a:22");
        Assert.That(ran.Reader.TryRead(out _), Is.False, "a:22 waits behind a:1's retry");

        time.Advance(TimeSpan.FromSeconds(10));
        Assert.That(await ran.Reader.ReadAsync().AsTask().Within(), Is.EqualTo("a:1"));
        Assert.That(await ran.Reader.ReadAsync().AsTask().Within(), Is.EqualTo("a:22"));
        await stage.StopAsync(Timeout.InfiniteTimeSpan);
    }
}
