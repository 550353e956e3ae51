using Engine.Internal;
using Engine.Limiters;
using Engine.Loops;
using Engine.Metrics;
using Engine.Pipelines;
using Engine.Stages;
using Microsoft.Extensions.Logging;

namespace Engine.Reporting;

/// <summary>
/// The reporting scheduler: reads the registered pipelines, stages, loops, limiters and contributed
/// sources (<see cref="IMetricsSource"/>) and hands
/// each reporter a <see cref="MetricsReport"/> every <see cref="IMetricsReporter.FlushInterval"/>.
/// Every reporter runs on a loop of its own with intervals of its own; its flushes never overlap and
/// each is bounded by <see cref="MetricsReportingOptions.FlushTimeout"/>, so a slow, failing or hung
/// reporter delays neither the pipeline (reading figures never blocks recording) nor another reporter.
/// Failures are logged and counted (<see cref="GetStatus"/>, and the <c>engine__reporter_*</c> points).
/// The scheduler owns its reporters: it disposes those that are disposable when it stops.
/// </summary>
public sealed class MetricsReporting : IAsyncDisposable
{
    private readonly MetricsSources _sources = new();
    private readonly List<ReporterRunner> _runners = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _gate = new();
    private readonly GlobalTags _tags;
    private readonly bool _flushOnStop;
    private Task? _stopped;
    private bool _started;

    private MetricsReporting(MetricsReportingOptions options)
    {
        _tags = options.Tags;
        Clock = options.TimeProvider;
        Logger = options.Logger;
        FlushTimeout = options.FlushTimeout;
        _flushOnStop = options.FlushOnStop;
        Created = Clock.GetTimestamp();
    }

    internal TimeProvider Clock { get; }

    internal ILogger Logger { get; }

    internal TimeSpan FlushTimeout { get; }

    /// <summary>Creates a scheduler; add sources and reporters, then <see cref="Start"/> it.</summary>
    /// <param name="options">The schedule; validated and copied now. Null takes the defaults.</param>
    /// <returns>The scheduler, not started.</returns>
    /// <exception cref="ArgumentException">An option is invalid; the message names it.</exception>
    public static MetricsReporting Create(MetricsReportingOptions? options = null)
    {
        options ??= new MetricsReportingOptions();
        const string owner = "MetricsReporting";
        OptionsValidation.Validate(options, owner, "options");
        if (options.Tags is null)
        {
            throw OptionsValidation.Invalid(owner, "options.Tags", "may not be null.");
        }

        if (options.TimeProvider is null)
        {
            throw OptionsValidation.Invalid(owner, "options.TimeProvider", "may not be null.");
        }

        if (options.Logger is null)
        {
            throw OptionsValidation.Invalid(owner, "options.Logger", "may not be null (use NullLogger.Instance).");
        }

        return new MetricsReporting(options);
    }

    /// <summary>Reports a pipeline's stages (and its end-to-end latency). May be called after <see cref="Start"/>.</summary>
    /// <typeparam name="T">The pipeline's input type.</typeparam>
    /// <param name="pipeline">The pipeline.</param>
    /// <returns>This scheduler.</returns>
    public MetricsReporting Add<T>(Pipeline<T> pipeline)
    {
        ArgumentNullException.ThrowIfNull(pipeline);
        _sources.Add(pipeline.Runtime);
        OpenCursors();
        return this;
    }

    /// <summary>Reports a stage used on its own (a pipeline's stages come with <see cref="Add{T}(Pipeline{T})"/>).</summary>
    /// <typeparam name="T">The stage's item type.</typeparam>
    /// <param name="stage">The stage.</param>
    /// <returns>This scheduler.</returns>
    public MetricsReporting Add<T>(Stage<T> stage)
    {
        ArgumentNullException.ThrowIfNull(stage);
        _sources.Add(stage);
        OpenCursors();
        return this;
    }

    /// <summary>Reports a periodic loop.</summary>
    /// <param name="loop">The loop.</param>
    /// <returns>This scheduler.</returns>
    public MetricsReporting Add(PeriodicLoop loop)
    {
        ArgumentNullException.ThrowIfNull(loop);
        _sources.Add(loop);
        OpenCursors();
        return this;
    }

    /// <summary>Reports a concurrency limiter.</summary>
    /// <param name="limiter">The limiter.</param>
    /// <returns>This scheduler.</returns>
    public MetricsReporting Add(ConcurrencyLimiter limiter)
    {
        ArgumentNullException.ThrowIfNull(limiter);
        _sources.Add(limiter);
        OpenCursors();
        return this;
    }

    /// <summary>
    /// Reports the points of a source from outside the core (a package, your own code) in every
    /// report, beside the engine's (see <see cref="IMetricsSource"/>). May be called after <see cref="Start"/>.
    /// </summary>
    /// <param name="source">The source; its name must be unique among this scheduler's sources.</param>
    /// <returns>This scheduler.</returns>
    /// <exception cref="ArgumentException">The name is empty or already used here; the message names it.</exception>
    public MetricsReporting Add(IMetricsSource source)
    {
        ArgumentNullException.ThrowIfNull(source);
        string? name = source.Name;
        if (string.IsNullOrWhiteSpace(name) || !_sources.Add(source))
        {
            throw new ArgumentException($"MetricsReporting: source name '{name}' is empty or already used; each source needs a unique Name.", nameof(source));
        }

        return this;
    }

    /// <summary>
    /// Stops reporting a source added with <see cref="Add(IMetricsSource)"/>: reports taken from now on
    /// leave it out (a report being taken may still call it once).
    /// </summary>
    /// <param name="source">The source, as added.</param>
    /// <returns>Whether it was here.</returns>
    public bool Remove(IMetricsSource source)
    {
        ArgumentNullException.ThrowIfNull(source);
        return _sources.Remove(source);
    }

    /// <summary>Adds a reporter, flushed every <see cref="IMetricsReporter.FlushInterval"/> once started.</summary>
    /// <param name="reporter">The reporter; its name must be unique here.</param>
    /// <returns>This scheduler.</returns>
    /// <exception cref="ArgumentException">The interval is not positive or the name is taken; the message names the reporter.</exception>
    /// <exception cref="InvalidOperationException">The scheduler has started or stopped.</exception>
    public MetricsReporting AddReporter(IMetricsReporter reporter)
    {
        ArgumentNullException.ThrowIfNull(reporter);
        TimeSpan interval = reporter.FlushInterval;
        if (interval <= TimeSpan.Zero || interval == Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentException($"MetricsReporting: reporter '{reporter.Name}' has FlushInterval {interval}; it must be greater than zero.", nameof(reporter));
        }

        lock (_gate)
        {
            if (_started || _stopped is not null)
            {
                throw new InvalidOperationException("MetricsReporting: add reporters before Start() (and before StopAsync()).");
            }

            if (string.IsNullOrWhiteSpace(reporter.Name) || _runners.Any(r => r.Name == reporter.Name))
            {
                throw new ArgumentException($"MetricsReporting: reporter name '{reporter.Name}' is empty or already used; each reporter needs a unique Name.", nameof(reporter));
            }

            _runners.Add(new ReporterRunner(reporter, interval, this));
        }

        return this;
    }

    /// <summary>Starts every reporter's loop. Idempotent.</summary>
    /// <exception cref="InvalidOperationException">The scheduler has been stopped.</exception>
    public void Start()
    {
        lock (_gate)
        {
            if (_stopped is not null)
            {
                throw new InvalidOperationException("MetricsReporting: it has been stopped and cannot start again.");
            }

            if (_started)
            {
                return;
            }

            _started = true;
            foreach (ReporterRunner runner in _runners)
            {
                _sources.Open(runner.Cursors);
                runner.Start(_stop.Token);
            }
        }
    }

    /// <summary>
    /// Flushes every reporter now, outside its schedule (a reporter already flushing is skipped and
    /// counted). Never throws for a reporter's failure.
    /// </summary>
    /// <returns>A task that completes when every flush has ended or timed out.</returns>
    /// <exception cref="InvalidOperationException">The scheduler has been stopped.</exception>
    public Task FlushAsync()
    {
        lock (_gate)
        {
            if (_stopped is not null)
            {
                throw new InvalidOperationException("MetricsReporting: it has been stopped.");
            }
        }

        return Task.WhenAll(Runners().Select(r => r.FlushOnceAsync(isFinal: false)));
    }

    /// <summary>Every reporter's self-metrics.</summary>
    /// <returns>One status per reporter, in the order they were added.</returns>
    public IReadOnlyList<ReporterStatus> GetStatus() => [.. Runners().Select(r => r.Status)];

    /// <summary>
    /// Stops the loops (waiting at most a flush timeout for flushes in progress), then makes one final
    /// flush per reporter when <see cref="MetricsReportingOptions.FlushOnStop"/> is set (a buffering
    /// reporter tries to deliver everything it holds, even while backing off), then disposes the
    /// reporters. Points a reporter still holds then are abandoned: logged as a warning and counted in
    /// its <see cref="DeliveryStatistics.Abandoned"/>. Idempotent; never throws for a reporter's failure.
    /// </summary>
    /// <returns>A task that completes when reporting has stopped.</returns>
    public Task StopAsync()
    {
        lock (_gate)
        {
            return _stopped ??= StopCoreAsync();
        }
    }

    /// <summary>As <see cref="StopAsync"/>.</summary>
    /// <returns>A task that completes when reporting has stopped.</returns>
    public async ValueTask DisposeAsync() => await StopAsync().ConfigureAwait(false);

    /// <summary>When the scheduler was created (clock ticks): where each reporter's first interval starts if it is never started.</summary>
    internal long Created { get; }

    internal MetricsReport TakeReport(MetricsCursors consumer, TimeSpan interval, bool isFinal) =>
        _sources.Take(consumer, _tags, Clock.GetUtcNow(), interval, GetStatus(), isFinal, Logger);

    /// <summary>Once started, every reporter's intervals on a new source begin now, so they see its depth peaks from now on.</summary>
    private void OpenCursors()
    {
        lock (_gate)
        {
            if (_started)
            {
                foreach (ReporterRunner runner in _runners)
                {
                    _sources.Open(runner.Cursors);
                }
            }
        }
    }

    private ReporterRunner[] Runners()
    {
        lock (_gate)
        {
            return [.. _runners];
        }
    }

    private async Task StopCoreAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        ReporterRunner[] runners = Runners();
        await Task.WhenAll(runners.Select(r => r.Loop)).ConfigureAwait(false);
        if (_flushOnStop)
        {
            await Task.WhenAll(runners.Select(r => r.FlushOnceAsync(isFinal: true))).ConfigureAwait(false);
        }

        foreach (ReporterRunner runner in runners)
        {
            await runner.DisposeAsync().ConfigureAwait(false);
        }

        _stop.Dispose();
    }
}
