using Microsoft.Extensions.Logging;

namespace Engine.Reporting;

/// <summary>
/// One reporter's loop: flushes on the reporter's interval with a cursor set of its own, never two
/// flushes at once, each bounded by the flush timeout; counts what happened.
/// </summary>
internal sealed class ReporterRunner : IAsyncDisposable
{
    private readonly IMetricsReporter _reporter;
    private readonly MetricsReporting _owner;
    private readonly Metrics.MetricsCursors _cursors = new();
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly TimeSpan _interval;
    private Task? _running;
    private Task _loop = Task.CompletedTask;
    private long _succeeded;
    private long _failed;
    private long _timedOut;
    private long _skipped;
    private long _lastDurationTicks;
    private long _previousReport;
    private bool _closed;

    public ReporterRunner(IMetricsReporter reporter, TimeSpan interval, MetricsReporting owner)
    {
        _reporter = reporter;
        _interval = interval;
        _owner = owner;
        _previousReport = owner.Created;
    }

    public string Name => _reporter.Name;

    public ReporterStatus Status
    {
        get
        {
            DeliveryStatistics? delivery;
            try
            {
                delivery = _reporter.Delivery;
            }
#pragma warning disable CA1031 // A reporter's broken statistics must not break every other reporter's report.
            catch (Exception)
#pragma warning restore CA1031
            {
                delivery = null;
            }

            return new ReporterStatus
            {
                Reporter = _reporter.Name,
                Succeeded = Volatile.Read(ref _succeeded),
                Failed = Volatile.Read(ref _failed),
                TimedOut = Volatile.Read(ref _timedOut),
                Skipped = Volatile.Read(ref _skipped),
                LastDuration = _owner.Clock.GetElapsedTime(0, Volatile.Read(ref _lastDurationTicks)),
                Delivery = delivery,
            };
        }
    }

    /// <summary>This reporter's cursors on the sources.</summary>
    public Metrics.MetricsCursors Cursors => _cursors;

    public void Start(CancellationToken stop)
    {
        // The first interval is the loop's first: it starts now, however long after creation.
        _previousReport = _owner.Clock.GetTimestamp();
        _loop = RunAsync(stop);
    }

    /// <summary>Completes when the loop has ended (after the stop token, and its current flush, which is time-bounded).</summary>
    public Task Loop => _loop;

    /// <summary>Flushes now unless a flush is running (then counts a skip); never throws.</summary>
    public async Task FlushOnceAsync(bool isFinal)
    {
        if (isFinal)
        {
            await FinalFlushAsync().ConfigureAwait(false);
            return;
        }

        if (_running is { IsCompleted: false } || !await _gate.WaitAsync(0).ConfigureAwait(false))
        {
            Skip();
            return;
        }

        try
        {
            // A flush asked for just before the scheduler stopped must not run on a closed runner.
            if (!_closed)
            {
                await FlushAsync(isFinal).ConfigureAwait(false);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Closes the cursors and disposes the reporter (the scheduler owns its reporters); never under a
    /// flush in progress. Points the reporter still holds are never delivered: logged here, counted by
    /// the reporter (<see cref="DeliveryStatistics.Abandoned"/>).
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        // Flushes hold the gate for at most a flush timeout; wait for one in progress, and refuse later ones.
        await _gate.WaitAsync().ConfigureAwait(false);
        _closed = true;
        _gate.Release();
        _cursors.Dispose();
        if (Status.Delivery is { Buffered: > 0 } delivery)
        {
            ReportingLog.PointsAbandoned(_owner.Logger, Name, delivery.Buffered);
        }

        try
        {
            if (_reporter is IAsyncDisposable asyncDisposable)
            {
                await asyncDisposable.DisposeAsync().ConfigureAwait(false);
            }
            else if (_reporter is IDisposable disposable)
            {
                disposable.Dispose();
            }
        }
#pragma warning disable CA1031 // A reporter failing to dispose must not fail StopAsync or keep the other reporters from being disposed.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            ReportingLog.DisposeFailed(_owner.Logger, Name, ex);
        }
    }

    /// <summary>
    /// The final flush: waits (at most a flush timeout) for a flush in progress to end rather than
    /// skipping, so a flush asked for just before stopping does not cost the final one.
    /// </summary>
    private async Task FinalFlushAsync()
    {
        using (var bound = new CancellationTokenSource(_owner.FlushTimeout, _owner.Clock))
        {
            try
            {
                await _gate.WaitAsync(bound.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                Skip();
                return;
            }
        }

        try
        {
            if (_closed || _running is { IsCompleted: false })
            {
                Skip();
                return;
            }

            await FlushAsync(isFinal: true).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    private void Skip()
    {
        Interlocked.Increment(ref _skipped);
        ReportingLog.FlushSkipped(_owner.Logger, Name);
    }

    private async Task RunAsync(CancellationToken stop)
    {
        using var timer = new PeriodicTimer(_interval, _owner.Clock);
        try
        {
            while (await timer.WaitForNextTickAsync(stop).ConfigureAwait(false))
            {
                await FlushOnceAsync(isFinal: false).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Stopped.
        }
    }

#pragma warning disable CA1031 // Whatever a reporter throws is logged and counted: it must never reach the pipeline or another reporter.
    private async Task FlushAsync(bool isFinal)
    {
        TimeProvider clock = _owner.Clock;
        long started = clock.GetTimestamp();
        using var cancel = new CancellationTokenSource();
        Task flush;
        try
        {
            TimeSpan interval = clock.GetElapsedTime(_previousReport, started);
            _previousReport = started;
            MetricsReport report = _owner.TakeReport(_cursors, interval, isFinal);
            // On the pool: a reporter that blocks before returning its task must hold up neither the
            // caller (FlushAsync, StopAsync, other reporters flushed with it) nor escape the time bound.
            CancellationToken token = cancel.Token;
            flush = Task.Run(() => _reporter.FlushAsync(report, token).AsTask(), CancellationToken.None);
        }
        catch (Exception ex)
        {
            Interlocked.Increment(ref _failed);
            ReportingLog.FlushFailed(_owner.Logger, Name, ex);
            return;
        }

        _running = flush;
        try
        {
            await flush.WaitAsync(_owner.FlushTimeout, clock).ConfigureAwait(false);
            Interlocked.Increment(ref _succeeded);
        }
        catch (TimeoutException) when (!flush.IsCompleted)
        {
            Interlocked.Increment(ref _timedOut);
            Interlocked.Increment(ref _failed);
            ReportingLog.FlushTimedOut(_owner.Logger, Name, _owner.FlushTimeout);
            try
            {
                await cancel.CancelAsync().ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                ReportingLog.FlushFailed(_owner.Logger, Name, ex);
            }

            // Observe the abandoned flush's fault whenever it ends, so it is never unobserved.
            _ = flush.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
        catch (Exception ex)
        {
            Interlocked.Increment(ref _failed);
            ReportingLog.FlushFailed(_owner.Logger, Name, ex);
        }
        finally
        {
            Volatile.Write(ref _lastDurationTicks, clock.GetTimestamp() - started);
        }
    }
#pragma warning restore CA1031
}
