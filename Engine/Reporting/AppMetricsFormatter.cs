using Engine.Limiters;
using Engine.Loops;
using Engine.Metrics;

namespace Engine.Reporting;

/// <summary>
/// Turns stage snapshots into points in App.Metrics' InfluxDB layout, so dashboards built for
/// App.Metrics work unchanged: measurement <c>engine__{name}</c>; tags: the metric's own
/// (<c>pipeline</c>, <c>stage</c>, <c>shard</c>, then <c>reason</c>), the global <c>app</c>, <c>env</c>,
/// <c>server</c>, then <c>mtype</c> and <c>unit</c> (timers add <c>unit_dur</c> and <c>unit_rate</c>,
/// meters <c>unit_rate</c>); fields per metric type: counter <c>value</c> (integer); gauge <c>value</c>
/// (float); meter <c>count.meter</c> (integer), <c>rate1m</c>, <c>rate5m</c>, <c>rate15m</c>,
/// <c>rate.mean</c>; timer the meter fields then <c>samples</c> (integer), <c>last</c>, <c>count.hist</c>
/// (integer), <c>sum</c>, <c>min</c>, <c>max</c>, <c>mean</c>, <c>median</c>, <c>stddev</c>, <c>p999</c>,
/// <c>p99</c>, <c>p98</c>, <c>p95</c>, <c>p75</c> (milliseconds). One formatter per reporter: it keeps
/// the meters' rate state.
/// </summary>
internal sealed class AppMetricsFormatter
{
    private const string Context = "engine";
    private GlobalTags _global;
    private readonly Dictionary<string, MeterRates> _rates = new(StringComparer.Ordinal);

    /// <summary>A formatter; <paramref name="global"/> tags the points of <see cref="Write(IPointWriter, StageMetricsSnapshot, long)"/> (a report brings its own).</summary>
    public AppMetricsFormatter(GlobalTags? global = null) => _global = global ?? GlobalTags.Default();

    /// <summary>Nanoseconds since the Unix epoch, the precision every point is written with.</summary>
    public static long Nanoseconds(DateTimeOffset timestamp) => (timestamp.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) * 100;

    /// <summary>Writes every figure of a report: stages, loops, limiters and the reporters' self-metrics, all with the report's timestamp.</summary>
    public void Write(IPointWriter writer, MetricsReport report)
    {
        long ts = Nanoseconds(report.Timestamp);
        _global = report.Tags;
        foreach (StageMetricsSnapshot stage in report.AllStages)
        {
            Write(writer, stage, ts);
        }

        foreach (LoopMetricsSnapshot loop in report.Loops)
        {
            List<KeyValuePair<string, string?>> own = [new("loop", loop.Loop)];
            Gauge(writer, "loop_running", own, loop.Running, "runs", ts);
            Counter(writer, "loop_runs", own, loop.Runs, "runs", ts);
            Counter(writer, "loop_failed_runs", own, loop.FailedRuns, "runs", ts);
            Gauge(writer, "loop_run_duration", own, loop.LastRunDuration.TotalMilliseconds, "ms", ts);
            Gauge(writer, "loop_run_items", own, loop.LastRunItems, "items", ts);
            Gauge(writer, "loop_run_failed_items", own, loop.LastRunFailedItems, "items", ts);
            Gauge(writer, "loop_since_success", own, loop.SinceLastSuccess?.TotalSeconds ?? double.NaN, "s", ts);
        }

        foreach (LimiterMetricsSnapshot limiter in report.Limiters)
        {
            List<KeyValuePair<string, string?>> own = [new("limiter", limiter.Limiter)];
            Gauge(writer, "limiter_held", own, limiter.Held, "slots", ts);
            Gauge(writer, "limiter_waiting", own, limiter.Waiting, "callers", ts);
            Gauge(writer, "limiter_max", own, limiter.MaxConcurrency, "slots", ts);
            Counter(writer, "limiter_acquired", own, limiter.Acquired, "slots", ts);
            Timer(writer, "limiter_wait_time", own, limiter.WaitTime, report.Interval.TotalSeconds, ts);
        }

        foreach (ReporterStatus status in report.Reporters)
        {
            List<KeyValuePair<string, string?>> own = [new("reporter", status.Reporter)];
            foreach ((string result, long value) in new[] { ("succeeded", status.Succeeded), ("failed", status.Failed), ("timed_out", status.TimedOut), ("skipped", status.Skipped) })
            {
                Counter(writer, "reporter_flushes", [.. own, new("result", result)], value, "flushes", ts);
            }

            if (status.Delivery is { } delivery)
            {
                foreach ((string result, long value) in new[] { ("sent", delivery.Sent), ("dropped", delivery.Dropped), ("rejected", delivery.Rejected) })
                {
                    Counter(writer, "reporter_points", [.. own, new("result", result)], value, "points", ts);
                }

                Gauge(writer, "reporter_buffered_points", own, delivery.Buffered, "points", ts);
                Counter(writer, "reporter_failed_requests", own, delivery.FailedRequests, "requests", ts);
            }
        }
    }

    /// <summary>Writes every figure of every shard of <paramref name="stage"/>.</summary>
    public void Write(IPointWriter writer, StageMetricsSnapshot stage, long timestampNanoseconds)
    {
        foreach (ShardMetricsSnapshot shard in stage.Shards)
        {
            List<KeyValuePair<string, string?>> own =
            [
                new("pipeline", stage.Pipeline),
                new("stage", stage.Stage),
                new("shard", shard.Shard.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            ];
            double seconds = shard.Interval.TotalSeconds;
            var c = shard.Counts;
            Gauge(writer, "queue_depth", own, shard.Depth, "items", timestampNanoseconds);
            Gauge(writer, "queue_depth_peak", own, shard.DepthPeak, "items", timestampNanoseconds);
            Gauge(writer, "in_flight", own, c.InFlight, "items", timestampNanoseconds);
            Counter(writer, "items_added", own, c.Accepted, "items", timestampNanoseconds);
            Counter(writer, "items_refused", own, c.Refused, "items", timestampNanoseconds);
            Counter(writer, "handler_errors", own, c.HandlerErrors, "errors", timestampNanoseconds);
            Counter(writer, "retries", own, c.Retries, "items", timestampNanoseconds);
            Counter(writer, "dead_lettered", own, c.DeadLettered, "items", timestampNanoseconds);
            Counter(writer, "items_abandoned", own, c.Abandoned, "items", timestampNanoseconds);
            foreach ((string reason, long value) in new[] { ("pending", c.SupersededPending), ("merged", c.SupersededMerged), ("in_flight", c.SupersededInFlight), ("content", c.SupersededContent), ("stale_retry", c.SupersededStaleRetry) })
            {
                Counter(writer, "items_superseded", [.. own, new("reason", reason)], value, "items", timestampNanoseconds);
            }

            foreach ((string reason, long value) in new[] { ("drop_oldest", c.DroppedOldest), ("drop_newest", c.DroppedNewest), ("drop_write", c.DroppedWrite) })
            {
                Counter(writer, "items_dropped", [.. own, new("reason", reason)], value, "items", timestampNanoseconds);
            }

            Meter(writer, "items_processed", own, c.Processed, shard.IntervalCounts.Processed, seconds, timestampNanoseconds);
            Counter(writer, "busy_time", own, (long)shard.BusyTime.TotalMilliseconds, "ms", timestampNanoseconds);
            Gauge(writer, "utilization", own, shard.Utilization, "ratio", timestampNanoseconds);
            Gauge(writer, "unfinished_work", own, shard.UnfinishedWork.TotalSeconds, "s", timestampNanoseconds);
            Gauge(writer, "longest_running", own, shard.LongestRunning.TotalSeconds, "s", timestampNanoseconds);
            Gauge(writer, "dedupe_waiting_keys", own, c.DedupeWaitingKeys, "keys", timestampNanoseconds);
            Gauge(writer, "dedupe_tracked_keys", own, c.ContentTrackedKeys, "keys", timestampNanoseconds);
            Counter(writer, "dedupe_content_evictions", own, c.ContentEvictions, "keys", timestampNanoseconds);
            Timer(writer, "work_duration", own, shard.WorkDuration, seconds, timestampNanoseconds);
            Timer(writer, "queue_wait", own, shard.QueueWait, seconds, timestampNanoseconds);
            if (shard.EndToEnd is { } endToEnd)
            {
                Timer(writer, "end_to_end_latency", own, endToEnd, seconds, timestampNanoseconds);
            }
        }
    }

    /// <summary><c>{context}__{name}</c>, lower-cased, spaces as underscores, dots kept.</summary>
    public static string Measurement(string name) => (Context + "__" + name).ToLowerInvariant().Replace(' ', '_');

    private void Counter(IPointWriter writer, string name, List<KeyValuePair<string, string?>> own, long value, string unit, long ts) =>
        writer.Write(Measurement(name), Tags(own, "counter", unit), [new("value", value)], ts);

    private void Gauge(IPointWriter writer, string name, List<KeyValuePair<string, string?>> own, double value, string unit, long ts) =>
        writer.Write(Measurement(name), Tags(own, "gauge", unit), [new("value", value)], ts);

    private void Meter(IPointWriter writer, string name, List<KeyValuePair<string, string?>> own, long count, long intervalCount, double seconds, long ts)
    {
        MeterRates rates = RatesFor(name, own, intervalCount, seconds);
        writer.Write(Measurement(name), Tags(own, "meter", "items", rateUnit: "s"), MeterFields(count, rates), ts);
    }

    private void Timer(IPointWriter writer, string name, List<KeyValuePair<string, string?>> own, LatencySummary summary, double seconds, long ts)
    {
        MeterRates rates = RatesFor(name, own, summary.Count, seconds);
        List<KeyValuePair<string, object>> fields = MeterFields(rates.Count, rates);
        fields.AddRange(
        [
            new("samples", summary.Count),
            new("last", summary.LastMilliseconds),
            new("count.hist", summary.Count),
            new("sum", summary.SumMilliseconds),
            new("min", summary.MinMilliseconds),
            new("max", summary.MaxMilliseconds),
            new("mean", summary.MeanMilliseconds),
            new("median", summary.P50),
            new("stddev", summary.StdDevMilliseconds),
            new("p999", summary.P999),
            new("p99", summary.P99),
            new("p98", summary.P98),
            new("p95", summary.P95),
            new("p75", summary.P75),
        ]);
        writer.Write(Measurement(name), Tags(own, "timer", "items", durationUnit: "ms", rateUnit: "s"), fields, ts);
    }

    private static List<KeyValuePair<string, object>> MeterFields(long count, MeterRates rates) =>
    [
        new("count.meter", count),
        new("rate1m", rates.OneMinute),
        new("rate5m", rates.FiveMinutes),
        new("rate15m", rates.FifteenMinutes),
        new("rate.mean", rates.Mean),
    ];

    private MeterRates RatesFor(string name, List<KeyValuePair<string, string?>> own, long intervalCount, double seconds)
    {
        string series = Series(name, own);
        if (!_rates.TryGetValue(series, out MeterRates? rates))
        {
            rates = new MeterRates();
            _rates[series] = rates;
        }

        rates.Update(intervalCount, seconds);
        return rates;
    }

    private static string Series(string name, List<KeyValuePair<string, string?>> own) => name + "\u001f" + string.Join("\u001f", own.Select(t => t.Value));

    private List<KeyValuePair<string, string?>> Tags(List<KeyValuePair<string, string?>> own, string type, string unit, string? durationUnit = null, string? rateUnit = null)
    {
        List<KeyValuePair<string, string?>> tags = [.. own, new("app", _global.App), new("env", _global.Env), new("server", _global.Server), new("mtype", type), new("unit", unit)];
        if (durationUnit is not null)
        {
            tags.Add(new("unit_dur", durationUnit));
        }

        if (rateUnit is not null)
        {
            tags.Add(new("unit_rate", rateUnit));
        }

        return tags;
    }
}
