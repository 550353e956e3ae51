using System.Globalization;
using Engine.Pipelines;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Engine.Hosting;

/// <summary>
/// Starts the registered pipelines, stages and loops with the host and runs the monitor; when the host
/// stops, stops the loops first (they feed the pipelines), then drains every pipeline and stage at once,
/// each for up to its drain timeout (or until the host's shutdown token fires), aborts what is left and
/// logs what each abandoned.
/// </summary>
internal sealed class EngineHostedService : IHostedService, IAsyncDisposable
{
    private readonly EngineInstances _instances;
    private readonly EngineMonitor _monitor;
    private readonly ItemLog _log;
    private readonly TimeProvider _clock;
    private readonly TimeSpan _interval;
    private readonly CancellationTokenSource _stopMonitor = new();
    private Task _monitoring = Task.CompletedTask;

    /// <summary>1 once disposed: the container disposes this object twice (as itself and as the IHostedService its factory returned).</summary>
    private int _disposed;

    public EngineHostedService(EngineInstances instances, EngineMonitor monitor, ItemLog log, TimeProvider clock, IOptions<EngineHostingOptions> options)
    {
        _instances = instances;
        _monitor = monitor;
        _log = log;
        _clock = clock;
        _interval = options.Value.MonitorInterval;
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (EngineInstance instance in _instances.All)
        {
            HostingLog.Started(_log.Logger, instance.Kind, instance.Name);
        }

        _monitoring = MonitorAsync(_stopMonitor.Token);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopMonitor.CancelAsync().ConfigureAwait(false);
        await _monitoring.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (!_instances.Created)
        {
            return;
        }

        IReadOnlyList<EngineInstance> all = _instances.All;
        foreach (EngineInstance loop in all.Where(i => i.Kind == "loop"))
        {
            await ((Task)loop.StopAsync(TimeSpan.Zero, cancellationToken).AsTask()).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        await Task.WhenAll(all.Where(i => i.Kind != "loop").Select(i => DrainAsync(i, cancellationToken))).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        // A host whose start failed half-way may never call StopAsync: the monitor must end anyway.
        await _stopMonitor.CancelAsync().ConfigureAwait(false);
        await _monitoring.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stopMonitor.Dispose();
    }

    private async Task DrainAsync(EngineInstance instance, CancellationToken cancellationToken)
    {
        long left = instance.GetStageCounts().Sum(s => s.Counts.Pending);
        HostingLog.Draining(_log.Logger, instance.Kind, instance.Name, instance.DrainTimeout, left);
        IReadOnlyList<PipelineStageCounts> counts = await instance.StopAsync(instance.DrainTimeout, cancellationToken).ConfigureAwait(false);
        if (instance.Completion.IsFaulted)
        {
            HostingLog.Faulted(_log.Logger, instance.Kind, instance.Name, instance.Completion.Exception!.InnerException ?? instance.Completion.Exception);
        }

        long abandoned = counts.Sum(s => s.Counts.Abandoned);
        if (abandoned > 0)
        {
            string detail = string.Join(", ", counts.Where(s => s.Counts.Abandoned > 0).Select(s => $"{s.Stage}={s.Counts.Abandoned}"));
            HostingLog.Abandoned(_log.Logger, instance.Kind, instance.Name, instance.DrainTimeout, abandoned, detail);
        }
        else
        {
            string detail = string.Join("; ", counts.Select(s => string.Create(CultureInfo.InvariantCulture, $"{s.Stage}: {s.Counts.Processed} processed, {s.Counts.DeadLettered} dead-lettered, {s.Counts.Dropped} dropped, {s.Counts.Superseded} superseded")));
            HostingLog.Drained(_log.Logger, instance.Kind, instance.Name, detail);
        }
    }

    private async Task MonitorAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            await Task.Delay(_interval, _clock, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            if (cancellationToken.IsCancellationRequested)
            {
                return;
            }

            try
            {
                _monitor.Sample();
            }
#pragma warning disable CA1031 // The monitor must outlive a failed sample; the failure is logged.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                HostingLog.MonitorFailed(_log.Logger, ex);
            }
        }
    }
}
