using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Engine.Limiters;
using Engine.Loops;
using Engine.Metrics;
using Engine.Pipelines;
using Engine.Stages;
using Engine.Tests.Support;
using OpenTelemetry;
using OpenTelemetry.Metrics;

namespace Engine.Tests.Metrics;

/// <summary>
/// What a service gets from the <c>Engine</c> meter with no configuration: bucket advice on every
/// histogram, a disposed stage's final figures, no series for unused shards, and its instruments from
/// a host's <see cref="IMeterFactory"/> when one is given.
/// </summary>
public class ObservabilityDefaultsTests
{
    [Test]
    public void The_meter_and_activity_source_names_are_public_constants()
    {
        Assert.Multiple(() =>
        {
            Assert.That(EngineTelemetry.MeterName, Is.EqualTo("Engine"));
            Assert.That(EngineTelemetry.ActivitySourceName, Is.EqualTo("Engine"));
            Assert.That(EngineMeter.Default.Meter.Name, Is.EqualTo(EngineTelemetry.MeterName));
        });
    }

    [Test]
    public void Every_histogram_advises_bucket_boundaries_in_seconds_from_a_microsecond_to_minutes()
    {
        var advised = new Dictionary<string, IReadOnlyList<double>?>();
        _ = EngineMeter.Default; // made first, so the listener's start publishes its instruments
        using (var listener = new MeterListener())
        {
            listener.InstrumentPublished = (instrument, _) =>
            {
                if (instrument.Meter.Name == EngineTelemetry.MeterName && instrument.Meter.Scope is null && instrument is Histogram<double> histogram)
                {
                    advised[histogram.Name] = histogram.Advice?.HistogramBucketBoundaries;
                }
            };
            listener.Start();
        }

        // A keyed window's items per window and a batcher's items per batch are counts, not times: OpenTelemetry's default buckets (0 to 10,000) suit them.
        Assert.That(advised.Keys, Is.EquivalentTo(new[] { "engine.work.duration", "engine.queue.wait", "engine.end_to_end.latency", "engine.limiter.wait", "engine.window.lateness", "engine.window.items", "engine.batch.size" }));
        Assert.That(advised["engine.window.items"], Is.Null);
        Assert.That(advised["engine.batch.size"], Is.Null);
        Assert.Multiple(() =>
        {
            foreach ((string name, IReadOnlyList<double>? bounds) in advised.Where(a => a.Key is not ("engine.window.items" or "engine.batch.size")))
            {
                Assert.That(bounds, Is.Not.Null.And.Ordered.Ascending.And.Unique, name);
                Assert.That(bounds![0], Is.LessThanOrEqualTo(0.000_001), name + ": a microsecond resolves");
                Assert.That(bounds[^1], Is.GreaterThanOrEqualTo(120), name + ": minutes resolve");
            }
        });
    }

    [Test]
    public async Task OpenTelemetry_exports_the_latency_histograms_with_the_advised_buckets_and_a_disposed_stage_s_final_counts()
    {
        string name = "otel-" + Guid.NewGuid().ToString("N");
        var exported = new List<Metric>();
        using MeterProvider provider = Sdk.CreateMeterProviderBuilder()
            .AddMeter(EngineTelemetry.MeterName)
            .AddInMemoryExporter(exported)
            .Build();

        // Disposed before any collection: its counts must still be exported once.
        Stage<int> stage = Stage.Create(new StageOptions<int> { Name = name, Shards = 2, KeySelector = i => i }, (int _, CancellationToken _) => { });
        for (int i = 0; i < 10; i++)
        {
            await stage.WriteAsync(i);
        }

        await stage.DisposeAsync();
        provider.ForceFlush();

        long processed = 0;
        IReadOnlyList<double>? bounds = null;
        long durations = 0;
        foreach (Metric metric in exported)
        {
            foreach (ref readonly MetricPoint point in metric.GetMetricPoints())
            {
                if (!IsOf(point, name))
                {
                    continue;
                }

                if (metric.Name == "engine.items.processed")
                {
                    processed += point.GetSumLong();
                }
                else if (metric.Name == "engine.work.duration")
                {
                    durations += point.GetHistogramCount();
                    var explicitBounds = new List<double>();
                    foreach (HistogramBucket bucket in point.GetHistogramBuckets())
                    {
                        explicitBounds.Add(bucket.ExplicitBound);
                    }

                    bounds = explicitBounds[..^1]; // the last bucket's bound is +∞
                }
            }
        }

        Assert.Multiple(() =>
        {
            Assert.That(processed, Is.EqualTo(10), "the final count of a stage disposed before the collection");
            Assert.That(durations, Is.EqualTo(10));
            Assert.That(bounds, Is.EqualTo(EngineMeter.LatencyBuckets), "the advised boundaries, not the SDK's 0, 5, 10, … 10000");
        });
    }

    [Test]
    public async Task A_stage_disposed_between_collections_is_collected_once_more_then_no_longer()
    {
        string name = "final-" + Guid.NewGuid().ToString("N");
        var processed = new ConcurrentDictionary<string, long>();
        int collections = 0;
        int measurements = 0;
        using var listener = Listen(name, (instrument, value, shard) =>
        {
            if (instrument == "engine.items.processed")
            {
                processed[$"{collections}:{shard}"] = value;
                if (collections == 1)
                {
                    Interlocked.Increment(ref measurements);
                }
            }
        });

        Stage<int> stage = Stage.Create(new StageOptions<int> { Name = name, Shards = 2, KeySelector = i => i }, (int _, CancellationToken _) => { });
        await stage.WriteAsync(1);
        listener.RecordObservableInstruments();
        for (int i = 0; i < 9; i++)
        {
            await stage.WriteAsync(i);
        }

        int usedShards = Enumerable.Range(0, 9).Select(i => stage.ShardOf(i)).Distinct().Count();
        await stage.DisposeAsync();
        await stage.DisposeAsync(); // a second disposal publishes nothing twice
        collections = 1;
        listener.RecordObservableInstruments();
        collections = 2;
        listener.RecordObservableInstruments();

        Assert.Multiple(() =>
        {
            Assert.That(processed.Where(kv => kv.Key.StartsWith("1:", StringComparison.Ordinal)).Sum(kv => kv.Value), Is.EqualTo(10), "the final figures, collected after the disposal");
            Assert.That(measurements, Is.EqualTo(usedShards), "one measurement per used shard in the collection after the disposal");
            Assert.That(processed.Keys.Where(k => k.StartsWith("2:", StringComparison.Ordinal)), Is.Empty, "gone once collected");
        });
    }

    [Test]
    public async Task Shards_that_never_took_an_item_publish_no_series()
    {
        string name = "unused-" + Guid.NewGuid().ToString("N");
        var shards = new ConcurrentDictionary<(string Instrument, string Shard), byte>();
        using var listener = Listen(name, (instrument, _, shard) => shards[(instrument, shard)] = 0);

        // One key: one of the eight keyed shards is used; the unkeyed shard (8) is not.
        await using var stage = Stage.Create(new StageOptions<int> { Name = name, Shards = 8, KeySelector = _ => "only" }, (int _, CancellationToken _) => { });
        await stage.WriteAsync(1);
        await stage.WriteAsync(2);
        string used = stage.ShardOf("only").ToString(System.Globalization.CultureInfo.InvariantCulture);
        listener.RecordObservableInstruments();

        Assert.Multiple(() =>
        {
            Assert.That(shards.Keys.Select(k => k.Shard).Distinct(), Is.EquivalentTo(new[] { used }));
            Assert.That(shards.Keys.Select(k => k.Instrument), Does.Contain("engine.items.added").And.Contain("engine.queue.depth").And.Contain("engine.busy.time"));
        });
    }

    [Test]
    public async Task A_host_s_meter_factory_makes_the_meter_of_the_stages_pipelines_loops_and_limiters_given_it()
    {
        using var factory = new TestMeterFactory();
        string name = "factory-" + Guid.NewGuid().ToString("N");
        var seen = new ConcurrentDictionary<(string Instrument, string Owner, bool FromFactory), long>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == EngineTelemetry.MeterName)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        void Record(Instrument instrument, long value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            foreach (KeyValuePair<string, object?> tag in tags)
            {
                if (tag.Value is string owner && owner.StartsWith(name, StringComparison.Ordinal))
                {
                    seen.AddOrUpdate((instrument.Name, owner, instrument.Meter.Scope == factory), value, (_, sum) => sum + value);
                }
            }
        }

        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Record(instrument, value, tags));
        listener.SetMeasurementEventCallback<int>((instrument, value, tags, _) => Record(instrument, value, tags));
        listener.Start();

        await using var stage = Stage.Create(new StageOptions<int> { Name = name + "-stage", MeterFactory = factory }, (int _, CancellationToken _) => { });
        await using var onDefault = Stage.Create(new StageOptions<int> { Name = name + "-default" }, (int _, CancellationToken _) => { });
        await using Pipeline<int> pipeline = Pipeline.Create<int>(name + "-pipeline", meterFactory: factory).Sink("sink", (_, _) => default).Build();
        await using PeriodicLoop loop = PeriodicLoop.Start(new PeriodicLoopOptions { Name = name + "-loop", MeterFactory = factory }, _ => ValueTask.FromResult(new LoopRun(0, 0)));
        using var limiter = ConcurrencyLimiter.Create(new ConcurrencyLimiterOptions { Name = name + "-limiter", MeterFactory = factory });
        await stage.WriteAsync(1);
        await onDefault.WriteAsync(1);
        await pipeline.WriteAsync(1);
        listener.RecordObservableInstruments();

        Assert.Multiple(() =>
        {
            Assert.That(factory.Meters.Select(m => m.Name), Is.EqualTo(new[] { EngineTelemetry.MeterName }), "one meter, made once, for all of them");
            Assert.That(seen.Keys, Does.Contain(("engine.items.added", name + "-stage", true)));
            Assert.That(seen.Keys, Does.Contain(("engine.items.added", name + "-pipeline", true)));
            Assert.That(seen.Keys, Does.Contain(("engine.loop.runs", name + "-loop", true)));
            Assert.That(seen.Keys, Does.Contain(("engine.limiter.held", name + "-limiter", true)));
            Assert.That(seen.Keys, Does.Contain(("engine.items.added", name + "-default", false)), "without a factory, the static meter");
            Assert.That(seen.Keys.Where(k => k.Owner == name + "-stage" && !k.FromFactory), Is.Empty, "a stage given a factory is not on the static meter");
            Assert.That(seen.Keys.Where(k => k.Owner == name + "-default" && k.FromFactory), Is.Empty);
        });
    }

    private static bool IsOf(in MetricPoint point, string stage)
    {
        foreach (KeyValuePair<string, object?> tag in point.Tags)
        {
            if (tag.Key == "stage" && (string?)tag.Value == stage)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Listens to the static meter's long and int instruments, calling <paramref name="seen"/> for measurements of <paramref name="stage"/> with their shard.</summary>
    private static MeterListener Listen(string stage, Action<string, long, string> seen)
    {
        var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            // The engine's static meter is told by its name and its missing scope (a factory's meter has
            // one), not by EngineMeter.Default: instruments are published while that static is being
            // initialised, and reading it from here then re-entered the type's initialiser, which threw
            // and broke the meter for the rest of the process (this test failed when run alone).
            if (instrument.Meter.Name == EngineTelemetry.MeterName && instrument.Meter.Scope is null)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        void Record(Instrument instrument, long value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            string? shard = null;
            bool ours = false;
            foreach (KeyValuePair<string, object?> tag in tags)
            {
                ours |= tag.Key == "stage" && (string?)tag.Value == stage;
                shard = tag.Key == "shard" ? Convert.ToString(tag.Value, System.Globalization.CultureInfo.InvariantCulture) : shard;
            }

            if (ours && shard is not null)
            {
                seen(instrument.Name, value, shard);
            }
        }

        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Record(instrument, value, tags));
        listener.SetMeasurementEventCallback<int>((instrument, value, tags, _) => Record(instrument, value, tags));
        listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Record(instrument, (long)value, tags));
        listener.Start();
        return listener;
    }

    /// <summary>An <see cref="IMeterFactory"/> as a host's DI container provides: it makes meters scoped to itself, caches them by name, and disposes them with itself.</summary>
    private sealed class TestMeterFactory : IMeterFactory
    {
        private readonly List<Meter> _meters = [];

        public IReadOnlyList<Meter> Meters
        {
            get
            {
                lock (_meters)
                {
                    return [.. _meters];
                }
            }
        }

        public Meter Create(MeterOptions options)
        {
            lock (_meters)
            {
                if (_meters.FirstOrDefault(m => m.Name == options.Name && m.Version == options.Version) is { } existing)
                {
                    return existing;
                }

                var meter = new Meter(options.Name, options.Version, options.Tags, scope: this);
                _meters.Add(meter);
                return meter;
            }
        }

        public void Dispose()
        {
            foreach (Meter meter in Meters)
            {
                meter.Dispose();
            }
        }
    }
}
