using System.Globalization;
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
            Assert.That(meter, Does.Contain(",mtype=meter,unit=items,unit_rate=min "), "App.Metrics' default rate unit");
            Assert.That(FieldKeys(meter), Is.EqualTo(new[] { "count.meter", "rate1m", "rate5m", "rate15m", "rate.mean" }));
            Assert.That(meter, Does.Contain("count.meter=2i"));
            Assert.That(meter, Does.Contain("rate.mean=12 "), "2 processed over the 10 s since the stage started: 0.2/s, 12/min");
            Assert.That(timer, Does.Contain(",mtype=timer,unit=items,unit_dur=ms,unit_rate=min "));
            Assert.That(FieldKeys(timer), Is.EqualTo(new[] { "count.meter", "rate1m", "rate5m", "rate15m", "rate.mean", "samples", "last", "count.hist", "sum", "min", "max", "mean", "median", "stddev", "p999", "p99", "p98", "p95", "p75" }));
            Assert.That(timer, Does.Contain("samples=3i").And.Contain("count.hist=3i"));
        });
    }

    [Test]
    public async Task Across_reports_count_hist_and_sum_accumulate_last_stays_and_min_and_max_are_recorded_values()
    {
        // Each item's handler run lasts exactly its milliseconds on the fake clock.
        var time = new WatchedTimeProvider();
        double[] runs = [0.5, 1.5, 3.25, 1.25, 290.816, 287.1];
        await using var stage = Stage.Create(
            new StageOptions<int> { Name = "enrich", Shards = 1, KeySelector = _ => "k", TimeProvider = time },
            (int i, CancellationToken _) => time.Advance(TimeSpan.FromTicks((long)Math.Round(runs[i] * TimeSpan.TicksPerMillisecond))));
        var formatter = new AppMetricsFormatter(Global);

        Dictionary<string, string> Report()
        {
            time.Advance(TimeSpan.FromSeconds(10));
            var writer = new LineProtocolWriter();
            formatter.Write(writer, stage.TakeMetricsSnapshot(), 1);
            string timer = writer.ToString().Split('\n').Single(l => l.StartsWith("engine__work_duration,stage=enrich,shard=0,", StringComparison.Ordinal));
            return timer.Split(' ')[1].Split(',').ToDictionary(f => f.Split('=')[0], f => f.Split('=')[1]);
        }

        for (int i = 0; i < 4; i++)
        {
            await stage.WriteAsync(i);
        }

        await TestWait.UntilAsync(() => stage.GetCounts().Processed == 4, "the first four items processed");
        Dictionary<string, string> first = Report();
        Dictionary<string, string> idle = Report();
        await stage.WriteAsync(4);
        await stage.WriteAsync(5);
        await TestWait.UntilAsync(() => stage.GetCounts().Processed == 6, "all six processed");
        Dictionary<string, string> second = Report();

        Assert.Multiple(() =>
        {
            Assert.That((first["count.hist"], first["sum"], first["min"], first["max"], first["last"]), Is.EqualTo(("4i", "6.5", "0.5", "3.25", "1.25")));
            Assert.That((idle["count.hist"], idle["count.meter"], idle["sum"], idle["last"], idle["p99"]), Is.EqualTo(("4i", "4i", "6.5", "1.25", "0")), "an idle interval keeps the totals and the last value; its distribution is empty");
            Assert.That(second["count.hist"], Is.EqualTo("6i"), "cumulative, as App.Metrics' count.hist: not the interval's 2");
            Assert.That(second["count.meter"], Is.EqualTo("6i"));
            Assert.That(second["samples"], Is.EqualTo("6i"));
            Assert.That(double.Parse(second["sum"], CultureInfo.InvariantCulture), Is.EqualTo(584.416).Within(1e-9));
            Assert.That(second["last"], Is.EqualTo("287.1"));
            Assert.That(second["min"], Is.EqualTo("287.1"), "the recorded value, not its bucket's midpoint");
            Assert.That(second["max"], Is.EqualTo("290.816"));
            Assert.That(double.Parse(second["mean"], CultureInfo.InvariantCulture), Is.EqualTo(288.958).Within(1e-9));
            Assert.That(double.Parse(second["median"], CultureInfo.InvariantCulture), Is.InRange(287.1, 290.816), "percentiles stay within the exact extremes");
            Assert.That(double.Parse(second["p999"], CultureInfo.InvariantCulture), Is.InRange(287.1, 290.816));
        });
    }

    [Test]
    public void Meter_rates_tick_every_five_seconds_and_the_first_tick_sets_them()
    {
        var rates = new MeterRates();
        rates.Update(600, TimeSpan.FromMinutes(1));
        Assert.That(rates.OneMinute, Is.EqualTo(10.0), "12 ticks of 50 events: 10/s from the first on");
        rates.Update(0, TimeSpan.FromMinutes(1));
        Assert.Multiple(() =>
        {
            // 12 idle ticks, each keeping e^(-5/60) (1 minute), e^(-5/300) (5 minutes) of the rate.
            Assert.That(rates.OneMinute, Is.EqualTo(10.0 * Math.Exp(-1)).Within(1e-9));
            Assert.That(rates.FiveMinutes, Is.EqualTo(10.0 * Math.Exp(-0.2)).Within(1e-9));
            Assert.That(rates.FifteenMinutes, Is.EqualTo(10.0 * Math.Exp(-1.0 / 15)).Within(1e-9));
            Assert.That(rates.Mean, Is.EqualTo(5.0), "600 events over the 120 s since the meter was created");
            Assert.That(rates.Count, Is.EqualTo(600));
        });
    }

    [Test]
    public void Events_after_the_last_tick_wait_for_the_next_one()
    {
        var rates = new MeterRates();
        rates.Update(40, TimeSpan.FromSeconds(4));
        Assert.That((rates.OneMinute, rates.Count, rates.Mean), Is.EqualTo((0.0, 40L, 10.0)), "no 5 s tick yet: the averages are App.Metrics' initial 0, the count and mean are not");
        rates.Update(60, TimeSpan.FromSeconds(6));
        Assert.That(rates.OneMinute, Is.EqualTo(10.0), "ticks at 5 s (40 + 10 events) and 10 s (50 events)");
    }

    /// <summary>
    /// App.Metrics' meter as its source describes it (SimpleMeter): events are counted as they happen;
    /// every 5 s the events since the previous tick, divided by the 5 s, give an instant rate; the
    /// first tick sets each average to it, later ticks move it by 1 − e^(−5/60/minutes).
    /// </summary>
    private static double[] AppMetricsMeter(Func<int, int> eventsInSecond, int seconds)
    {
        double[] rates = new double[3];
        int[] minutes = [1, 5, 15];
        bool initialized = false;
        long uncounted = 0;
        for (int second = 0; second < seconds; second++)
        {
            uncounted += eventsInSecond(second);
            if ((second + 1) % 5 == 0)
            {
                double instant = uncounted / 5.0;
                uncounted = 0;
                for (int i = 0; i < 3; i++)
                {
                    rates[i] = initialized ? rates[i] + ((1 - Math.Exp(-5 / 60.0 / minutes[i])) * (instant - rates[i])) : instant;
                }

                initialized = true;
            }
        }

        return rates;
    }

    [TestCase(7)]
    [TestCase(3)]
    [TestCase(12)]
    [TestCase(10)]
    public void A_steady_rate_reported_at_any_interval_gives_App_Metrics_rates(int reportSeconds)
    {
        var rates = new MeterRates();
        for (int report = 1; report <= 20; report++)
        {
            rates.Update(20 * reportSeconds, TimeSpan.FromSeconds(reportSeconds));
            int now = report * reportSeconds;
            double[] expected = AppMetricsMeter(_ => 20, now);
            Assert.Multiple(() =>
            {
                Assert.That(rates.OneMinute, Is.EqualTo(expected[0]).Within(1e-9), $"1 minute rate at {now} s");
                Assert.That(rates.FiveMinutes, Is.EqualTo(expected[1]).Within(1e-9), $"5 minute rate at {now} s");
                Assert.That(rates.FifteenMinutes, Is.EqualTo(expected[2]).Within(1e-9), $"15 minute rate at {now} s");
                Assert.That(rates.Mean, Is.EqualTo(20.0).Within(1e-9), $"mean rate at {now} s");
            });
        }

        Assert.That(rates.OneMinute, Is.EqualTo(20.0), "20/s held steady: the averages are exactly 20/s once the first tick has passed");
    }

    [Test]
    public void A_rate_that_changes_at_a_7_second_report_follows_App_Metrics_ticks_not_the_reports()
    {
        // 10/s for two reports, then 30/s: App.Metrics' 5 s ticks see 10/s at 5 s and 10 s and
        // (40 + 30) / 5 = 14/s at 15 s. Weighting each 7 s report by its own length (the old way)
        // gives other numbers.
        var rates = new MeterRates();
        int[] perSecond = [10, 10, 30, 30, 30, 30];
        for (int report = 0; report < perSecond.Length; report++)
        {
            rates.Update(perSecond[report] * 7, TimeSpan.FromSeconds(7));
        }

        double[] expected = AppMetricsMeter(second => perSecond[second / 7], perSecond.Length * 7);
        Assert.Multiple(() =>
        {
            Assert.That(rates.OneMinute, Is.EqualTo(expected[0]).Within(1e-9));
            Assert.That(rates.FiveMinutes, Is.EqualTo(expected[1]).Within(1e-9));
            Assert.That(rates.FifteenMinutes, Is.EqualTo(expected[2]).Within(1e-9));
        });
    }

    [TestCase(RateUnit.Seconds, "s", "20")]
    [TestCase(RateUnit.Minutes, "min", "1200")]
    [TestCase(RateUnit.Hours, "h", "72000")]
    public void The_rate_unit_scales_every_rate_and_names_itself_in_unit_rate(RateUnit unit, string tag, string rate)
    {
        var formatter = new AppMetricsFormatter(Global, unit);
        var writer = new LineProtocolWriter();
        var shard = new ShardMetricsSnapshot { Shard = 0, Counts = new StageCounts { Processed = 200 }, IntervalCounts = new StageCounts { Processed = 200 }, Interval = TimeSpan.FromSeconds(10) };
        formatter.Write(writer, new StageMetricsSnapshot { Stage = "s", Shards = [shard], Interval = TimeSpan.FromSeconds(10) }, 1);
        string[] lines = writer.ToString().Split('\n');
        Assert.Multiple(() =>
        {
            Assert.That(lines.Single(l => l.StartsWith("engine__items_processed,", StringComparison.Ordinal)), Does.EndWith($",mtype=meter,unit=items,unit_rate={tag} count.meter=200i,rate1m={rate},rate5m={rate},rate15m={rate},rate.mean={rate} 1"));
            Assert.That(lines.Single(l => l.StartsWith("engine__work_duration,", StringComparison.Ordinal)), Does.Contain($",unit_dur=ms,unit_rate={tag} "));
        });
    }
}
