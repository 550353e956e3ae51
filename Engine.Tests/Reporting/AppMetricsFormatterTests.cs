using Engine.Metrics;
using Engine.Reporting;
using Engine.Stages;
using Engine.Tests.Support;

namespace Engine.Tests.Reporting;

public class AppMetricsFormatterTests
{
    private static readonly GlobalTags Global = new("demo", "release", "h1");

    private static async Task<StageMetricsSnapshot> SnapshotAsync(WatchedTimeProvider time)
    {
        await using var stage = Stage.Create(
            new StageOptions<int> { Name = "enrich", Shards = 1, KeySelector = _ => "k", TimeProvider = time },
            (int i, CancellationToken _) => { if (i == 2) { throw new InvalidOperationException(); } });
        for (int i = 0; i < 3; i++)
        {
            await stage.WriteAsync(i);
        }

        await stage.StopAsync(Timeout.InfiniteTimeSpan).Within();
        time.Advance(TimeSpan.FromSeconds(10));
        return stage.TakeMetricsSnapshot();
    }

    private static string[] Lines(StageMetricsSnapshot snapshot)
    {
        var writer = new LineProtocolWriter();
        new AppMetricsFormatter(Global).Write(writer, snapshot, 1700000000000000000);
        return writer.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    [Test]
    public async Task Counters_are_integer_values_with_the_metric_tags_then_the_global_tags_then_mtype_and_unit()
    {
        string[] lines = Lines(await SnapshotAsync(new WatchedTimeProvider()));
        Assert.Multiple(() =>
        {
            Assert.That(lines, Does.Contain("engine__items_added,stage=enrich,shard=0,app=demo,env=release,server=h1,mtype=counter,unit=items value=3i 1700000000000000000"));
            Assert.That(lines, Does.Contain("engine__dead_lettered,stage=enrich,shard=0,app=demo,env=release,server=h1,mtype=counter,unit=items value=1i 1700000000000000000"));
            Assert.That(lines, Does.Contain("engine__items_superseded,stage=enrich,shard=0,reason=pending,app=demo,env=release,server=h1,mtype=counter,unit=items value=0i 1700000000000000000"));
            Assert.That(lines, Does.Contain("engine__queue_depth,stage=enrich,shard=0,app=demo,env=release,server=h1,mtype=gauge,unit=items value=0 1700000000000000000"));
            Assert.That(lines.Where(l => l.StartsWith("engine__items_added,", StringComparison.Ordinal)).Select(l => l.Split(',')[2]), Is.EqualTo(new[] { "shard=0", "shard=1" }), "one point per shard, the unkeyed one included");
            Assert.That(lines.Any(l => l.Contains("pipeline=", StringComparison.Ordinal)), Is.False, "an empty pipeline tag is left out");
        });
    }

    [Test]
    public async Task Meters_and_timers_carry_the_App_Metrics_fields_in_order()
    {
        string[] lines = Lines(await SnapshotAsync(new WatchedTimeProvider()));
        string meter = lines.First(l => l.StartsWith("engine__items_processed,", StringComparison.Ordinal));
        string timer = lines.First(l => l.StartsWith("engine__work_duration,", StringComparison.Ordinal));
        static string[] FieldKeys(string line) => line.Split(' ')[1].Split(',').Select(f => f.Split('=')[0]).ToArray();
        Assert.Multiple(() =>
        {
            Assert.That(meter, Does.Contain(",mtype=meter,unit=items,unit_rate=s "));
            Assert.That(FieldKeys(meter), Is.EqualTo(new[] { "count.meter", "rate1m", "rate5m", "rate15m", "rate.mean" }));
            Assert.That(meter, Does.Contain("count.meter=2i"));
            Assert.That(meter, Does.Contain("rate.mean=0.2 "), "2 processed over the 10 s interval");
            Assert.That(timer, Does.Contain(",mtype=timer,unit=items,unit_dur=ms,unit_rate=s "));
            Assert.That(FieldKeys(timer), Is.EqualTo(new[] { "count.meter", "rate1m", "rate5m", "rate15m", "rate.mean", "samples", "last", "count.hist", "sum", "min", "max", "mean", "median", "stddev", "p999", "p99", "p98", "p95", "p75" }));
            Assert.That(timer, Does.Contain("samples=3i").And.Contain("count.hist=3i"));
        });
    }

    [Test]
    public void Meter_rates_weight_each_interval_by_its_length()
    {
        var rates = new MeterRates();
        rates.Update(600, 60);
        Assert.That(rates.OneMinute, Is.EqualTo(10.0), "the first interval sets the rate");
        rates.Update(0, 60);
        Assert.Multiple(() =>
        {
            Assert.That(rates.OneMinute, Is.EqualTo(10.0 * Math.Exp(-1)).Within(1e-9));
            Assert.That(rates.FiveMinutes, Is.EqualTo(10.0 * Math.Exp(-0.2)).Within(1e-9));
            Assert.That(rates.Mean, Is.EqualTo(5.0));
        });
    }
}
