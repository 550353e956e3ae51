using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Engine.Stages;
using Engine.Tests.Support;

namespace Engine.Tests.Metrics;

/// <summary>The figures reach a <see cref="MeterListener"/> through the meter named "Engine".</summary>
public class MeterTests
{
    [Test]
    public async Task A_pipeline_s_stages_leave_the_meter_when_it_is_disposed_after_one_last_collection()
    {
        string pipelineName = "gone-" + Guid.NewGuid().ToString("N");
        var seen = new ConcurrentBag<string>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Name == "engine.items.processed")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, _, tags, _) =>
        {
            foreach (KeyValuePair<string, object?> tag in tags)
            {
                if (tag.Key == "pipeline" && (string?)tag.Value == pipelineName)
                {
                    seen.Add(pipelineName);
                }
            }
        });
        listener.Start();

        Engine.Pipelines.Pipeline<int> pipeline = Engine.Pipelines.Pipeline.Create<int>(pipelineName).Sink("only", (_, _) => default).Build();
        await pipeline.WriteAsync(1);
        await pipeline.CompleteAsync().Within();
        listener.RecordObservableInstruments();
        Assert.That(seen, Is.Not.Empty, "observable while the pipeline lives, even after it completed");

        // Disposed while a listener collects: its final figures are collected once more, then never.
        await pipeline.DisposeAsync();
        seen.Clear();
        listener.RecordObservableInstruments();
        Assert.That(seen, Is.Not.Empty, "the final figures, once");
        seen.Clear();
        listener.RecordObservableInstruments();
        Assert.That(seen, Is.Empty);
    }

    [Test]
    public async Task Counters_gauges_and_histograms_are_published_through_the_Engine_meter()
    {
        string name = "meter-" + Guid.NewGuid().ToString("N");
        var longs = new ConcurrentDictionary<(string Instrument, string Tags), long>();
        var durations = new ConcurrentBag<double>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == "Engine")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            var t = tags.ToArray();
            if (t.Any(kv => kv.Key == "stage" && (string?)kv.Value == name))
            {
                longs[(instrument.Name, string.Join(",", t.Where(kv => kv.Key != "stage").Select(kv => $"{kv.Key}={kv.Value}")))] = value;
            }
        });
        listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) =>
        {
            if (instrument.Name == "engine.work.duration" && tags.ToArray().Any(kv => kv.Key == "stage" && (string?)kv.Value == name))
            {
                durations.Add(value);
            }
        });
        listener.Start();

        await using var stage = Stage.Create(
            new StageOptions<int> { Name = name, Shards = 2, KeySelector = i => i },
            (int i, CancellationToken _) => { if (i == 3) { throw new InvalidOperationException(); } });
        for (int i = 0; i < 10; i++)
        {
            await stage.WriteAsync(i);
        }

        await stage.StopAsync(Timeout.InfiniteTimeSpan).Within();
        listener.RecordObservableInstruments();

        long Sum(string instrument) => longs.Where(kv => kv.Key.Instrument == instrument).Sum(kv => kv.Value);
        Assert.Multiple(() =>
        {
            Assert.That(Sum("engine.items.added"), Is.EqualTo(10));
            Assert.That(Sum("engine.items.processed"), Is.EqualTo(9));
            Assert.That(Sum("engine.items.dead_lettered"), Is.EqualTo(1));
            Assert.That(Sum("engine.handler.errors"), Is.EqualTo(1));
            Assert.That(Sum("engine.queue.depth"), Is.Zero);
            // The unkeyed shard (2) took no item, so it publishes no series.
            Assert.That(longs.Keys.Where(k => k.Instrument == "engine.items.processed").Select(k => k.Tags), Is.EquivalentTo(new[] { "shard=0", "shard=1" }));
            Assert.That(longs.Keys.Where(k => k.Instrument == "engine.items.superseded").Select(k => k.Tags), Does.Contain("shard=0,reason=stale_retry"));
            Assert.That(durations, Has.Count.EqualTo(10), "one work duration per handler run, in seconds");
        });
    }
}
