using Engine.Tests.Support;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Engine.Hosting.Tests.Support;

/// <summary>
/// A real generic host (Host.CreateApplicationBuilder) with in-memory configuration, a fake clock
/// registered as the host's TimeProvider, and its log captured.
/// </summary>
internal static class TestHost
{
    public static HostApplicationBuilder Builder(ListLoggerProvider log, WatchedTimeProvider? clock = null, params (string Key, string Value)[] settings)
    {
        HostApplicationBuilder builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true, EnvironmentName = "Test" });
        builder.Configuration.AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value)));
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(LogLevel.Trace);
        builder.Logging.AddProvider(log);
        if (clock is not null)
        {
            builder.Services.AddSingleton<TimeProvider>(clock);
        }

        return builder;
    }

    /// <summary>Waits until the fake clock has a timer due in <paramref name="due"/> (others are skipped), then moves time on by it.</summary>
    public static async Task AdvanceToTimerAsync(this WatchedTimeProvider clock, TimeSpan due)
    {
        while (await clock.NextTimerAsync() != due)
        {
        }

        clock.Advance(due);
    }
}
