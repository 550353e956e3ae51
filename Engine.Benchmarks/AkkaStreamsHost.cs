using Akka.Actor;
using Akka.Configuration;
using Akka.Streams;

namespace Engine.Benchmarks;

/// <summary>
/// The one actor system and materializer an Akka.Streams contender uses for a whole benchmark class:
/// started in its global setup, reused by every run, terminated in its global cleanup.
/// </summary>
internal sealed class AkkaStreamsHost
{
    // Default dispatcher and buffer settings (the library's own defaults); only logging is quietened
    // so that the actor system's start-up lines do not mix into BenchmarkDotNet's output.
    private static readonly Config Quiet = ConfigurationFactory.ParseString("""
        akka.loglevel = WARNING
        akka.stdout-loglevel = WARNING
        """);

    private AkkaStreamsHost(ActorSystem system)
    {
        System = system;
        Materializer = system.Materializer();
    }

    /// <summary>The actor system.</summary>
    public ActorSystem System { get; }

    /// <summary>The materializer every run of the class reuses.</summary>
    public IMaterializer Materializer { get; }

    /// <summary>Starts an actor system named <paramref name="name"/>.</summary>
    /// <param name="name">The actor system's name.</param>
    /// <returns>The host.</returns>
    public static AkkaStreamsHost Start(string name) => new(ActorSystem.Create(name, Quiet));

    /// <summary>Terminates the actor system (the materializer goes with it) and waits for it.</summary>
    /// <param name="host">The host, or null when the setup never started one.</param>
    public static void Stop(AkkaStreamsHost? host)
    {
        if (host is not null && !host.System.Terminate().Wait(TimeSpan.FromSeconds(30)))
        {
            throw new TimeoutException($"Actor system '{host.System.Name}' did not terminate within 30 s.");
        }
    }
}
