namespace Engine.Reporting;

/// <summary>
/// The tags App.Metrics adds to every point: <c>app</c>, <c>env</c> and <c>server</c>. Defaults: the
/// entry assembly's name, the <c>DOTNET_ENVIRONMENT</c>/<c>ASPNETCORE_ENVIRONMENT</c> variable (else
/// <c>production</c>), and the machine name. An empty value is left out of the points.
/// </summary>
/// <param name="App">The application.</param>
/// <param name="Env">The environment.</param>
/// <param name="Server">The host.</param>
public sealed record GlobalTags(string App, string Env, string Server)
{
    /// <summary>The defaults described on the type.</summary>
    /// <returns>The tags.</returns>
    public static GlobalTags Default() => new(
        System.Reflection.Assembly.GetEntryAssembly()?.GetName().Name ?? "engine",
        Environment.GetEnvironmentVariable("DOTNET_ENVIRONMENT") ?? Environment.GetEnvironmentVariable("ASPNETCORE_ENVIRONMENT") ?? "production",
        Environment.MachineName);
}
