namespace Engine.Hosting;

/// <summary>
/// A pipeline, stage or loop added to the service collection: its kind and name, and how to create it.
/// Registrations are plain descriptions; the instances live in each service provider's <see cref="EngineInstances"/>.
/// </summary>
internal abstract class EngineRegistration
{
    protected EngineRegistration(string kind, string name)
    {
        Kind = kind;
        Name = name;
    }

    /// <summary><c>pipeline</c>, <c>stage</c> or <c>loop</c>.</summary>
    public string Kind { get; }

    public string Name { get; }

    /// <summary>Creates (and so starts) the instance.</summary>
    public abstract EngineInstance Create(IServiceProvider services);
}
