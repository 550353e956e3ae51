using System.Globalization;
using Engine.Metrics;
using Engine.Pipelines;
using Engine.Reporting;
using Microsoft.Extensions.Options;

namespace Engine.Hosting;

/// <summary>
/// Samples every instance each <see cref="EngineHostingOptions.MonitorInterval"/>: which stages have
/// stayed deep, how fast they dead-letter, which loops stopped succeeding and which reporters keep
/// failing (read by <see cref="EngineHealthCheck"/>), and logs the handler and callback errors of
/// pipeline stages in each interval (their items are logged by key only when dead-lettered).
/// Only the sampling loop calls <see cref="Sample"/>, so its state needs no lock; readers get
/// <see cref="Problems"/>, an immutable list replaced whole.
/// </summary>
internal sealed class EngineMonitor
{
    private readonly EngineInstances _instances;
    private readonly ReportingHostedService _reporting;
    private readonly ItemLog _log;
    private readonly TimeProvider _clock;
    private readonly EngineHealthOptions _health;
    private readonly Dictionary<string, StageTrack> _stages = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ReporterTrack> _reporters = new(StringComparer.Ordinal);
    private readonly long _started;
    private long _lastSample;
    private long _samples;

    public EngineMonitor(EngineInstances instances, ReportingHostedService reporting, ItemLog log, TimeProvider clock, IOptions<EngineHealthOptions> health)
    {
        _instances = instances;
        _reporting = reporting;
        _log = log;
        _clock = clock;
        _health = health.Value;
        _started = clock.GetTimestamp();
        _lastSample = _started;
    }

    /// <summary>What the last sample found wrong; empty before the first sample.</summary>
    public IReadOnlyList<string> Problems { get; private set; } = [];

    /// <summary>How many samples have been taken (tests wait on it).</summary>
    public long Samples => Interlocked.Read(ref _samples);

    public void Sample()
    {
        long now = _clock.GetTimestamp();
        TimeSpan interval = _clock.GetElapsedTime(_lastSample, now);
        _lastSample = now;
        var problems = new List<string>();
        foreach (EngineInstance instance in _instances.All)
        {
            foreach (PipelineStageCounts stage in instance.GetStageCounts())
            {
                SampleStage(instance, stage, now, interval, problems);
            }

            if (instance.Completion.IsFaulted)
            {
                problems.Add($"{instance.Kind} '{instance.Name}' faulted: {instance.Completion.Exception?.InnerException?.Message}");
            }

            if (instance.GetLoop() is { } loop)
            {
                SampleLoop(instance, loop, now, problems);
            }
        }

        foreach (ReporterStatus status in _reporting.GetStatus())
        {
            SampleReporter(status, problems);
        }

        _log.FlushSuppressed();
        Problems = problems;
        Interlocked.Increment(ref _samples);
    }

    private void SampleStage(EngineInstance instance, PipelineStageCounts stage, long now, TimeSpan interval, List<string> problems)
    {
        StageCounts counts = stage.Counts;
        if (!_stages.TryGetValue(stage.Stage, out StageTrack? track))
        {
            _stages[stage.Stage] = track = new StageTrack();
        }

        if (counts.Waiting >= _health.DepthThreshold)
        {
            track.DeepSince ??= now;
            TimeSpan deepFor = _clock.GetElapsedTime(track.DeepSince.Value, now);
            if (deepFor >= _health.DeepFor)
            {
                problems.Add(Invariant($"stage '{stage.Stage}' has had {counts.Waiting} or more items waiting for {deepFor.TotalSeconds:F0} s (threshold {_health.DepthThreshold} for {_health.DeepFor.TotalSeconds:F0} s)"));
            }
        }
        else
        {
            track.DeepSince = null;
        }

        long deadLetters = counts.DeadLettered - track.DeadLettered;
        double rate = interval > TimeSpan.Zero ? deadLetters / interval.TotalSeconds : 0;
        if (deadLetters > 0 && rate > _health.DeadLettersPerSecond)
        {
            problems.Add(Invariant($"stage '{stage.Stage}' dead-lettered {deadLetters} items in the last {interval.TotalSeconds:F1} s ({rate:F2}/s, threshold {_health.DeadLettersPerSecond:F2}/s)"));
        }

        track.DeadLettered = counts.DeadLettered;
    }

    private void SampleLoop(EngineInstance instance, LoopMetricsSnapshot loop, long now, List<string> problems)
    {
        TimeSpan staleAfter = _health.LoopStaleAfter ?? instance.LoopInterval * 3;
        TimeSpan since = loop.SinceLastSuccess ?? _clock.GetElapsedTime(_started, now);
        if (since > staleAfter)
        {
            string last = loop.SinceLastSuccess is null ? "has not succeeded yet" : Invariant($"last succeeded {since.TotalSeconds:F0} s ago");
            problems.Add(Invariant($"loop '{instance.Name}' {last} ({loop.Runs} runs succeeded, {loop.FailedRuns} failed; stale after {staleAfter.TotalSeconds:F0} s)"));
        }
    }

    private void SampleReporter(ReporterStatus status, List<string> problems)
    {
        if (!_reporters.TryGetValue(status.Reporter, out ReporterTrack? track))
        {
            _reporters[status.Reporter] = track = new ReporterTrack();
        }

        // A flush that succeeded ends the streak; failures since the last sample extend it.
        if (status.Succeeded > track.Succeeded)
        {
            track.Streak = 0;
        }

        track.Streak += status.Failed - track.Failed;
        track.Succeeded = status.Succeeded;
        track.Failed = status.Failed;

        // A buffering reporter (InfluxDB) flushes fine into its buffer while its deliveries fail.
        long failures = Math.Max(track.Streak, status.Delivery?.ConsecutiveFailures ?? 0);
        if (failures >= _health.ReporterFailures)
        {
            problems.Add(Invariant($"reporter '{status.Reporter}' failed {failures} times in a row (threshold {_health.ReporterFailures})"));
        }
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    /// <summary>What the monitor remembers of a stage between samples.</summary>
    private sealed class StageTrack
    {
        public long? DeepSince { get; set; }

        public long DeadLettered { get; set; }


    }

    /// <summary>What the monitor remembers of a reporter between samples.</summary>
    private sealed class ReporterTrack
    {
        public long Succeeded { get; set; }

        public long Failed { get; set; }

        public long Streak { get; set; }
    }
}
