using System.Diagnostics;
using Engine.Inspection;
using Engine.Internal;
using Engine.Metrics;

namespace Engine.Loops;

/// <summary>
/// Runs a job every interval on a <see cref="TimeProvider"/>: never two runs at once, a run can be
/// triggered on demand (<see cref="TriggerNow"/>; triggers during a run collapse into one run after
/// it), and <see cref="StopAsync"/> ends it cleanly, waiting for a run in progress. A job that throws
/// is counted as a failed run and the loop goes on.
/// </summary>
[DebuggerDisplay("Loop {Name}: Runs = {_runs}, Running = {_running}")]
public sealed class PeriodicLoop : IAsyncDisposable, ILoopMetricsSource, IWatchedPart
{
    private readonly Func<CancellationToken, ValueTask<LoopRun>> _job;
    private readonly TimeProvider _clock;
    private readonly TimeSpan _interval;
    private readonly EngineMeter _meter;
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _trigger = new(0, 1);
    private readonly Task _loop;

    /// <summary>The stop, once asked for: every <see cref="StopAsync"/> returns it.</summary>
    private Task? _stopped;
    private int _disposed;
    private int _running;
    private long _runs;
    private long _failedRuns;
    private long _lastRunTicks;
    private long _lastItems;
    private long _lastFailed;
    private long _lastSuccessAt;

    /// <summary>
    /// What the loop awaits between runs (null while it runs or is about to), so a watching clock's
    /// harness (see <see cref="IWatchingClock"/>) can tell a loop that waits for its interval from one
    /// about to run: the task completes before the loop moves on.
    /// </summary>
    private Task? _parkedOn;

    private PeriodicLoop(PeriodicLoopOptions options, Func<CancellationToken, ValueTask<LoopRun>> job)
    {
        Name = options.Name;
        _job = job;
        _clock = options.TimeProvider;
        _interval = options.Interval;
        if (options.RunAtStart)
        {
            _trigger.Release();
        }

        _meter = EngineMeter.For(options.MeterFactory);
        _loop = RunAsync();
        _meter.Register(this);
        (_clock as IWatchingClock)?.Watch(this);
    }

    /// <summary>The loop's name.</summary>
    public string Name { get; }

    /// <summary>Starts a loop.</summary>
    /// <param name="options">How it runs; validated and copied now.</param>
    /// <param name="job">One run; gets a token cancelled when the loop stops, and reports the items it handled.</param>
    /// <returns>The running loop.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> or <paramref name="job"/> is null.</exception>
    /// <exception cref="ArgumentException">An option is invalid; the message names it.</exception>
    public static PeriodicLoop Start(PeriodicLoopOptions options, Func<CancellationToken, ValueTask<LoopRun>> job)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(job);
        string owner = string.IsNullOrWhiteSpace(options.Name) ? "PeriodicLoop" : $"PeriodicLoop '{options.Name}'";
        OptionsValidation.Validate(options, owner, "options");
        if (options.TimeProvider is null)
        {
            throw OptionsValidation.Invalid(owner, "options.TimeProvider", "may not be null.");
        }

        return new PeriodicLoop(options, job);
    }

    /// <summary>Asks for a run now (after the run in progress, if any). Several requests before it starts make one run.</summary>
    public void TriggerNow()
    {
        try
        {
            _trigger.Release();
        }
        catch (SemaphoreFullException)
        {
            // A run is already requested: requests collapse.
        }
        catch (ObjectDisposedException)
        {
            // Stopped.
        }
    }

    /// <summary>The loop's figures now.</summary>
    /// <returns>The snapshot.</returns>
    public LoopMetricsSnapshot GetMetrics()
    {
        long lastSuccess = Volatile.Read(ref _lastSuccessAt);
        return new LoopMetricsSnapshot
        {
            Loop = Name,
            Running = Volatile.Read(ref _running),
            Runs = Volatile.Read(ref _runs),
            FailedRuns = Volatile.Read(ref _failedRuns),
            LastRunDuration = _clock.GetElapsedTime(0, Volatile.Read(ref _lastRunTicks)),
            LastRunItems = Volatile.Read(ref _lastItems),
            LastRunFailedItems = Volatile.Read(ref _lastFailed),
            SinceLastSuccess = lastSuccess == 0 ? null : _clock.GetElapsedTime(lastSuccess),
        };
    }

    /// <summary>
    /// Stops the loop: no new run starts; a run in progress sees its token cancelled and is awaited.
    /// Idempotent, and safe to call from several threads and together with <see cref="DisposeAsync"/>:
    /// every call returns the same task. Do not await it from inside the job: it waits for that very run.
    /// </summary>
    /// <returns>A task that completes when the loop has ended.</returns>
    public Task StopAsync()
    {
        if (Volatile.Read(ref _stopped) is { } stopped)
        {
            return stopped;
        }

        // One caller stops the loop; every other one, racing or later, awaits that same stop, so the
        // stop source is cancelled once and never after DisposeAsync disposed it.
        var mine = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (Interlocked.CompareExchange(ref _stopped, mine.Task, null) is { } raced)
        {
            return raced;
        }

        _ = StopOnceAsync(mine);
        return mine.Task;
    }

    private async Task StopOnceAsync(TaskCompletionSource done)
    {
        try
        {
            await _stop.CancelAsync().ConfigureAwait(false);
            await _loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            _meter.Unregister(this);
        }
        finally
        {
            done.TrySetResult();
        }
    }

    /// <summary>Stops the loop (see <see cref="StopAsync"/>) and releases its resources. Idempotent; safe together with <see cref="StopAsync"/>.</summary>
    /// <returns>A task that completes when the loop has ended.</returns>
    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            // Nothing uses them any more: the stop has run to its end and the loop with it.
            _stop.Dispose();
            _trigger.Dispose();
        }
    }

    string? IWatchedPart.Pipeline => null;

    Task IWatchedPart.Completion => _loop;

    StageCounts IWatchedPart.GetCounts() => default;

    /// <summary>Busy while a run is under way or about to start; otherwise it waits for its interval on the clock.</summary>
    void IWatchedPart.Inspect(List<PartState> into)
    {
        if (!_loop.IsCompleted && Volatile.Read(ref _parkedOn) is not { IsCompleted: false })
        {
            into.Add(new PartState(null, Name, null, null, Volatile.Read(ref _running) != 0 ? "running its job" : "about to run its job (its interval passed or it was triggered)", true));
        }
    }

    private async Task RunAsync()
    {
        CancellationToken stop = _stop.Token;
        await Task.Yield();
        while (!stop.IsCancellationRequested)
        {
            try
            {
                // Either the interval passes or a trigger arrives, whichever is first.
                using var waitEnds = CancellationTokenSource.CreateLinkedTokenSource(stop);
                Task delay = Task.Delay(_interval, _clock, waitEnds.Token);
                Task triggered = _trigger.WaitAsync(waitEnds.Token);
                Task first = Task.WhenAny(delay, triggered);
                Volatile.Write(ref _parkedOn, first);
                await first.ConfigureAwait(false);
                Volatile.Write(ref _parkedOn, null);
                await waitEnds.CancelAsync().ConfigureAwait(false);

                // If the trigger's wait completed as well, its request is served by this same run.
                await Task.WhenAll(delay, triggered).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                stop.ThrowIfCancellationRequested();
            }
            catch (OperationCanceledException)
            {
                break;
            }

            await RunOnceAsync(stop).ConfigureAwait(false);
        }
    }

    private async Task RunOnceAsync(CancellationToken stop)
    {
        long started = _clock.GetTimestamp();
        Volatile.Write(ref _running, 1);
        try
        {
            LoopRun run = await _job(stop).ConfigureAwait(false);
            long ended = _clock.GetTimestamp();
            Volatile.Write(ref _lastItems, run.Items);
            Volatile.Write(ref _lastFailed, run.Failed);
            Volatile.Write(ref _lastRunTicks, ended - started);
            Volatile.Write(ref _lastSuccessAt, ended == 0 ? 1 : ended);
            Interlocked.Increment(ref _runs);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Stopping: the run was cut short on purpose.
        }
        catch (Exception)
        {
            Volatile.Write(ref _lastRunTicks, _clock.GetTimestamp() - started);
            Interlocked.Increment(ref _failedRuns);
        }
        finally
        {
            Volatile.Write(ref _running, 0);
        }
    }
}
