using Microsoft.Extensions.DependencyInjection;

namespace Engine.Hosting;

/// <summary>
/// The service provider's running pipelines, stages and loops: created together, in registration order,
/// the first time any is asked for (by DI, a hosted service or a health check), and disposed with the provider.
/// </summary>
internal sealed class EngineInstances : IAsyncDisposable
{
    private readonly Lock _lock = new();
    private readonly EngineRegistration[] _registrations;
    private readonly IServiceProvider _services;
    private EngineInstance[]? _instances;

    public EngineInstances(IEnumerable<EngineRegistration> registrations, IServiceProvider services)
    {
        _registrations = [.. registrations];
        _services = services;
    }

    /// <summary>Every instance, created on first use. A creation that throws (bad options) fails this call, and the next one tries again.</summary>
    public IReadOnlyList<EngineInstance> All
    {
        get
        {
            lock (_lock)
            {
                if (_instances is null)
                {
                    var created = new List<EngineInstance>(_registrations.Length);
                    try
                    {
                        foreach (EngineRegistration registration in _registrations)
                        {
                            created.Add(registration.Create(_services));
                        }
                    }
                    catch
                    {
                        // Stop what did start, so a failed start leaves no workers or loops running.
                        foreach (EngineInstance instance in created)
                        {
                            instance.DisposeAsync().AsTask().GetAwaiter().GetResult();
                        }

                        throw;
                    }

                    _instances = [.. created];
                }

                return _instances;
            }
        }
    }

    /// <summary>Whether the instances exist (without creating them).</summary>
    public bool Created
    {
        get
        {
            lock (_lock)
            {
                return _instances is not null;
            }
        }
    }

    /// <summary>The instance of <paramref name="kind"/> named <paramref name="name"/>.</summary>
    public EngineInstance Get(string kind, string name) =>
        All.First(i => i.Kind == kind && i.Name == name);

    public async ValueTask DisposeAsync()
    {
        EngineInstance[]? instances;
        lock (_lock)
        {
            instances = _instances;
        }

        foreach (EngineInstance instance in instances ?? [])
        {
            await instance.DisposeAsync().ConfigureAwait(false);
        }
    }
}
