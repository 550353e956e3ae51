using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Engine.Metrics;
using Engine.Pipelines;
using Engine.Reporting;
using Engine.Tests.Support;
using Engine.Windows;
using Microsoft.Extensions.Time.Testing;

namespace Engine.Tests.Windows;

/// <summary>A keyed window step's figures reach every reporter path: the snapshot, the App.Metrics points (InfluxDB and text), the console and the meter.</summary>
public class KeyedWindowMetricsTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private readonly record struct Reading(string Sensor, int Value);

    /// <summary>Two sensors, one shard: "a" folds 3 items and "b" 1 into 10 s windows; the clock passes the boundary after the closed windows' loop has had 2 s of lag.</summary>
    private static async Task<Pipeline<Reading>> RunAsync(string name, FakeTimeProvider time)
    {
        Pipeline<Reading> pipeline = Pipeline.Create<Reading>(name, time)
            .TumblingWindow<int>("window", TimeSpan.FromSeconds(10), () => 0, (s, r) => s + r.Value, o => { o.Stage.KeySelector = r => r.Sensor; o.Stage.Shards = 1; })
            .Sink("out", (_, _) => default)
            .Build();
        foreach (Reading reading in new[] { new Reading("a", 1), new Reading("a", 2), new Reading("a", 3), new Reading("b", 4) })
        {
            await pipeline.WriteAsync(reading);
        }

        await TestWait.UntilAsync(() => pipeline.GetCounts().WindowsOf("window").Folded == 4, "4 folds");
        return pipeline;
    }

    [Test]
    public async Task The_snapshot_carries_open_windows_items_per_window_lateness_and_flushes()
    {
        var time = new FakeTimeProvider(T0);
        await using Pipeline<Reading> pipeline = await RunAsync("window-snapshot", time);
        StageMetricsSnapshot open = pipeline.TakeMetricsSnapshot().Stages.Single(s => s.Stage == "window");
        Assert.That(open.Windows.Single().Counts.Open, Is.EqualTo(2));

        time.Advance(TimeSpan.FromSeconds(10));
        await TestWait.UntilAsync(() => pipeline.GetCounts().WindowsOf("window").Emitted == 2, "both windows forwarded");
        StageMetricsSnapshot closed = pipeline.TakeMetricsSnapshot().Stages.Single(s => s.Stage == "window");
        WindowMetricsSnapshot shard = closed.Windows.Single();
        Assert.Multiple(() =>
        {
            Assert.That(shard.Shard, Is.Zero);
            Assert.That(shard.Counts.Open, Is.Zero);
            Assert.That(shard.Counts.Emitted, Is.EqualTo(2));
            Assert.That(shard.ItemsPerWindow.Count, Is.EqualTo(2));
            Assert.That(shard.ItemsPerWindow.MinMilliseconds, Is.EqualTo(1), "items, not milliseconds");
            Assert.That(shard.ItemsPerWindow.MaxMilliseconds, Is.EqualTo(3));
            Assert.That(shard.ItemsPerWindow.SumMilliseconds, Is.EqualTo(4));
            Assert.That(shard.Lateness.Count, Is.EqualTo(2));
            Assert.That(shard.Lateness.MaxMilliseconds, Is.Zero, "the fake clock stood still between the close and the forwarding");
        });
    }

    [Test]
    public async Task App_Metrics_points_and_the_console_show_the_window_figures()
    {
        var time = new FakeTimeProvider(T0);
        await using Pipeline<Reading> pipeline = await RunAsync("window-points", time);
        time.Advance(TimeSpan.FromSeconds(10));
        await TestWait.UntilAsync(() => pipeline.GetCounts().WindowsOf("window").Emitted == 2, "both windows forwarded");
        PipelineMetricsSnapshot snapshot = pipeline.TakeMetricsSnapshot();
        StageMetricsSnapshot stage = snapshot.Stages.Single(s => s.Stage == "window");

        var writer = new LineProtocolWriter();
        new AppMetricsFormatter(new GlobalTags("demo", "release", "h1")).Write(writer, stage, 1700000000000000000);
        string[] lines = writer.ToString().Split('\n');
        Assert.Multiple(() =>
        {
            Assert.That(lines, Has.One.StartsWith("engine__window_open,pipeline=window-points,stage=window,shard=0,app=demo,env=release,server=h1,mtype=gauge,unit=windows value=0 "));
            Assert.That(lines, Has.One.StartsWith("engine__windows_emitted,pipeline=window-points,stage=window,shard=0,app=demo,env=release,server=h1,mtype=counter,unit=windows value=2i "));
            Assert.That(lines, Has.One.StartsWith("engine__window_early_flushes,").And.Contain(" value=0i "));
            Assert.That(lines, Has.One.StartsWith("engine__window_items,pipeline=window-points,stage=window,shard=0,app=demo,env=release,server=h1,mtype=histogram,unit=items samples=2i,last=").And.Contain(",count.hist=2i,sum=4,min=1,max=3,"));
            Assert.That(lines, Has.One.StartsWith("engine__window_lateness,").And.Contain("mtype=histogram,unit=ms samples=2i"));
        });

        var report = new MetricsReport { Tags = new GlobalTags("demo", "release", "h1"), Pipelines = [snapshot] };
        Assert.That(ConsoleReporter.Format(report), Does.Contain("    windows open 0, emitted 2 (4 items), early 0, at completion 0, abandoned items 0; items/window mean 2 max 3, lateness p99 "));
    }

    [Test]
    public async Task The_Engine_meter_publishes_open_windows_emitted_windows_and_the_window_histograms()
    {
        string name = "window-meter-" + Guid.NewGuid().ToString("N");
        var observed = new ConcurrentDictionary<string, long>();
        var recorded = new ConcurrentBag<(string Instrument, double Value)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == "Engine" && instrument.Name.StartsWith("engine.window", StringComparison.Ordinal))
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            if (Tagged(tags, name))
            {
                observed[instrument.Name] = value;
            }
        });
        listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) =>
        {
            if (Tagged(tags, name))
            {
                recorded.Add((instrument.Name, value));
            }
        });
        listener.Start();

        var time = new FakeTimeProvider(T0);
        await using Pipeline<Reading> pipeline = await RunAsync(name, time);
        listener.RecordObservableInstruments();
        Assert.That(observed["engine.window.open"], Is.EqualTo(2));

        time.Advance(TimeSpan.FromSeconds(10));
        await TestWait.UntilAsync(() => pipeline.GetCounts().WindowsOf("window").Emitted == 2, "both windows forwarded");
        listener.RecordObservableInstruments();
        Assert.Multiple(() =>
        {
            Assert.That(observed["engine.window.open"], Is.Zero);
            Assert.That(observed["engine.windows.emitted"], Is.EqualTo(2));
            Assert.That(observed["engine.window.early_flushes"], Is.Zero);
            Assert.That(recorded.Where(r => r.Instrument == "engine.window.items").Select(r => r.Value), Is.EquivalentTo(new[] { 3.0, 1.0 }));
            Assert.That(recorded.Where(r => r.Instrument == "engine.window.lateness").Select(r => r.Value), Is.EquivalentTo(new[] { 0.0, 0.0 }));
        });
    }

    private static bool Tagged(ReadOnlySpan<KeyValuePair<string, object?>> tags, string pipeline)
    {
        foreach (KeyValuePair<string, object?> tag in tags)
        {
            if (tag.Key == "pipeline" && (string?)tag.Value == pipeline)
            {
                return true;
            }
        }

        return false;
    }
}
