using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Engine.Hosting;

/// <summary>
/// Reports the registration's failure status (degraded by default) while the monitor's last sample
/// found a problem (see <see cref="EngineHealthOptions"/>), with each problem in the description and
/// the data; healthy otherwise.
/// </summary>
internal sealed class EngineHealthCheck : IHealthCheck
{
    private readonly EngineMonitor _monitor;
    private readonly EngineInstances _instances;

    public EngineHealthCheck(EngineMonitor monitor, EngineInstances instances)
    {
        _monitor = monitor;
        _instances = instances;
    }

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(context);
        IReadOnlyList<string> problems = _monitor.Problems;
        var data = new Dictionary<string, object>
        {
            ["instances"] = _instances.Created ? _instances.All.Count : 0,
            ["samples"] = _monitor.Samples,
        };
        if (problems.Count == 0)
        {
            return Task.FromResult(HealthCheckResult.Healthy("Engine: no problem in the last sample.", data));
        }

        for (int i = 0; i < problems.Count; i++)
        {
            data[$"problem{i + 1}"] = problems[i];
        }

        return Task.FromResult(new HealthCheckResult(context.Registration.FailureStatus, "Engine: " + string.Join("; ", problems) + ".", data: data));
    }
}
