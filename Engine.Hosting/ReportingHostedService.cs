using Engine.Reporting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Engine.Hosting;

/// <summary>
/// Runs <see cref="MetricsReporting"/> for every registered pipeline, stage and loop, and every
/// <see cref="IMetricsSource"/> in the container (figures of packages such as Engine.Nats), with the
/// reporters of <see cref="EngineReportingOptions"/> and those registered as <see cref="IMetricsReporter"/>. It is
/// registered before <see cref="EngineHostedService"/>, so it starts first and stops last: its final
/// flush on stop carries the figures of the finished drain.
/// </summary>
internal sealed class ReportingHostedService : IHostedService
{
    private readonly IServiceProvider _services;
    private readonly EngineInstances _instances;
    private readonly EngineReportingOptions _options;
    private readonly TimeProvider _clock;
    private readonly ILogger _logger;
    private MetricsReporting? _reporting;

    public ReportingHostedService(IServiceProvider services, EngineInstances instances, IOptions<EngineReportingOptions> options, TimeProvider clock, ItemLog log)
    {
        _services = services;
        _instances = instances;
        _options = options.Value;
        _clock = clock;
        _logger = log.Logger;
    }

    /// <summary>Every reporter's status; empty when reporting does not run.</summary>
    public IReadOnlyList<ReporterStatus> GetStatus() => Volatile.Read(ref _reporting)?.GetStatus() ?? [];

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var reporters = new List<IMetricsReporter>(_services.GetServices<IMetricsReporter>());
        if (_options.Console is { } console)
        {
            reporters.Add(new ConsoleReporter(console));
        }

        if (_options.InfluxDb is { } influx)
        {
            if (ReferenceEquals(influx.Logger, NullLogger.Instance))
            {
                influx.Logger = _logger;
            }

            if (ReferenceEquals(influx.TimeProvider, TimeProvider.System))
            {
                influx.TimeProvider = _clock;
            }

            reporters.Add(new InfluxDbReporter(influx));
        }

        if (reporters.Count == 0)
        {
            return Task.CompletedTask;
        }

        GlobalTags tags = GlobalTags.Default();
        tags = tags with { App = _options.App ?? tags.App, Env = _options.Env ?? tags.Env, Server = _options.Server ?? tags.Server };
        var reporting = MetricsReporting.Create(new MetricsReportingOptions { Tags = tags, TimeProvider = _clock, Logger = _logger, FlushTimeout = _options.FlushTimeout });
        foreach (EngineInstance instance in _instances.All)
        {
            instance.AddTo(reporting);
        }

        foreach (IMetricsSource source in _services.GetServices<IMetricsSource>())
        {
            reporting.Add(source);
        }

        foreach (IMetricsReporter reporter in reporters)
        {
            reporting.AddReporter(reporter);
        }

        reporting.Start();
        Volatile.Write(ref _reporting, reporting);
        string names = string.Join(", ", reporters.Select(r => r.Name));
        HostingLog.ReportingStarted(_logger, names);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) =>
        Volatile.Read(ref _reporting)?.StopAsync().WaitAsync(cancellationToken) ?? Task.CompletedTask;
}
