using Engine.Dedupe;
using Engine.Stages;
using Engine.Testing;
using Engine.Timing;

namespace Engine.Tests.Stages;

/// <summary>Debounce per dedupe key (issue 26): a burst becomes one run of the latest, at quiet or at max wait.</summary>
public class DebounceTests
{
    private static StageOptions<string> Options(TimeSpan quiet, TimeSpan maxWait, Action<string, SupersedeReason>? superseded = null) => new()
    {
        Name = "debounced",
        KeySelector = s => s.Split(':')[0],
        Shards = 2,
        Dedupe = new DedupeOptions<string> { Mode = DedupeMode.Replace, OnSuperseded = superseded },
        Debounce = new DebounceOptions { QuietPeriod = quiet, MaxWait = maxWait },
    };

    [Test]
    public async Task A_burst_runs_once_with_its_latest_value_when_the_key_has_been_quiet()
    {
        await using var harness = new EngineHarness();
        var superseded = new List<(string, SupersedeReason)>();
        SinkProbe<string> sink = harness.Sink<string>();
        Stage<string> stage = harness.Stage(Options(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(10), (s, r) => superseded.Add((s, r))), sink.HandleAsync);
        DateTimeOffset start = harness.Now;

        for (int i = 1; i <= 4; i++)
        {
            await stage.WriteAsync($"sensor:{i}");
            await harness.AdvanceAsync(TimeSpan.FromMilliseconds(500));
        }

        await stage.WriteAsync("other:1");
        Assert.That(sink.Count, Is.Zero, "never quiet for a second yet");
        Assert.That(stage.GetCounts().WaitingDelayed, Is.EqualTo(2));

        // The last write was at 1.5 s: quiet until 2.5 s.
        await harness.AdvanceAsync(TimeSpan.FromMilliseconds(499));
        Assert.That(sink.Count, Is.Zero);
        await harness.AdvanceAsync(TimeSpan.FromMilliseconds(1));
        Assert.That(sink.Received.Select(r => (r.Item, r.At - start)), Is.EqualTo(new[] { ("sensor:4", TimeSpan.FromMilliseconds(2500)) }));
        await harness.AdvanceAsync(TimeSpan.FromMilliseconds(500));
        Assert.That(sink.Items, Is.EqualTo(new[] { "sensor:4", "other:1" }));

        StageCounts counts = await harness.CompleteAsync(stage);
        Assert.Multiple(() =>
        {
            Assert.That(superseded, Is.EqualTo(new[] { ("sensor:1", SupersedeReason.Delayed), ("sensor:2", SupersedeReason.Delayed), ("sensor:3", SupersedeReason.Delayed) }));
            Assert.That((counts.Accepted, counts.Processed, counts.SupersededDelayed, counts.Delayed), Is.EqualTo((5L, 2L, 3L, 2L)));
            Assert.That(counts.IsConserved, Is.True);
        });
    }

    [Test]
    public async Task A_key_that_never_goes_quiet_runs_at_its_max_wait_and_then_starts_again()
    {
        await using var harness = new EngineHarness();
        SinkProbe<string> sink = harness.Sink<string>();
        Stage<string> stage = harness.Stage(Options(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(3)), sink.HandleAsync);
        DateTimeOffset start = harness.Now;

        // A write every 500 ms for 5 s: never quiet for a second.
        for (int i = 0; i < 10; i++)
        {
            await stage.WriteAsync($"sensor:{i}");
            await harness.AdvanceAsync(TimeSpan.FromMilliseconds(500));
        }

        // First pending update at 0: runs at 3 s with the latest then (written at 3.0 s is after the run: sensor:5 was at 2.5 s).
        Assert.That((sink.Received[0].Item, sink.Received[0].At - start), Is.EqualTo(("sensor:5", TimeSpan.FromSeconds(3))));

        // The next burst starts with sensor:6 (3.0 s) and runs at its max wait, 6.0 s, unless quiet first: the last write was at 4.5 s, so quiet at 5.5 s.
        await harness.AdvanceAsync(TimeSpan.FromSeconds(2));
        Assert.That(sink.Received.Select(r => (r.Item, r.At - start)), Is.EqualTo(new[] { ("sensor:5", TimeSpan.FromSeconds(3)), ("sensor:9", TimeSpan.FromSeconds(5.5)) }));
    }

    [Test]
    public void Bad_debounce_options_fail_creation_naming_the_option()
    {
        string Fails(StageOptions<string> options) =>
            Assert.Throws<ArgumentException>(() => Stage.Create(options, (string _, CancellationToken _) => default))!.ParamName!;

        StageOptions<string> noDedupe = Options(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2));
        noDedupe.Dedupe = null;
        Assert.Multiple(() =>
        {
            Assert.That(Fails(Options(TimeSpan.Zero, TimeSpan.FromSeconds(2))), Is.EqualTo("options.Debounce.QuietPeriod"));
            Assert.That(Fails(Options(TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(1))), Is.EqualTo("options.Debounce.MaxWait"));
            Assert.That(Fails(noDedupe), Is.EqualTo("options.Debounce"));
        });
    }
}
