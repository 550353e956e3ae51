using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Engine.Hosting;

/// <summary>Adds the Engine health check to the host's health checks.</summary>
public static class EngineHealthChecksBuilderExtensions
{
    /// <summary>
    /// Adds a health check that reports <paramref name="failureStatus"/> while a stage's queues stay deep,
    /// a stage dead-letters faster than allowed, a periodic loop stops succeeding, a metrics reporter keeps
    /// failing, or a pipeline has faulted (thresholds: <see cref="EngineHealthOptions"/>, <c>Engine:Health</c>;
    /// sampled every <see cref="EngineHostingOptions.MonitorInterval"/>). The description names each problem.
    /// </summary>
    /// <param name="builder">The health checks builder (<c>services.AddHealthChecks()</c>).</param>
    /// <param name="name">The check's name. The default value is <c>engine</c>.</param>
    /// <param name="failureStatus">What a problem reports. The default value is <see cref="HealthStatus.Degraded"/>.</param>
    /// <param name="tags">Tags to filter checks by, or null.</param>
    /// <returns>The builder.</returns>
    public static IHealthChecksBuilder AddEngineHealthCheck(this IHealthChecksBuilder builder, string name = "engine", HealthStatus failureStatus = HealthStatus.Degraded, IEnumerable<string>? tags = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);

        // The check reads the monitor, which the hosted service runs; with nothing registered yet it is healthy.
        EngineServiceCollectionExtensions.AddCore(builder.Services);
        return builder.Add(new HealthCheckRegistration(
            name,
            sp => new EngineHealthCheck(sp.GetRequiredService<EngineMonitor>(), sp.GetRequiredService<EngineInstances>()),
            failureStatus,
            tags));
    }
}
