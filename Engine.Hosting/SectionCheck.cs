using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Engine.Hosting;

/// <summary>
/// The first configure step of an options type bound from configuration: checks the section's keys and
/// values (<see cref="ConfigurationShape"/>) before the binder sees them, and fails with every mistake
/// named by its full key. Registered before the binding, so the binder never meets a value it cannot
/// convert (it would throw at the first one, or, inside a pipeline's stage entry, drop the entry
/// silently). The check of <c>Engine:Hosting</c>, which every host with Engine.Hosting creates on
/// start, also checks <c>Engine</c> itself: its sections, and the names under <c>Engine:Pipelines</c> and
/// <c>Engine:Stages</c> against the pipelines and stages registered.
/// </summary>
/// <typeparam name="TOptions">The options type.</typeparam>
internal sealed class SectionCheck<TOptions> : IConfigureNamedOptions<TOptions>
    where TOptions : class
{
    /// <summary>The sections directly under <c>Engine</c>, by the options type each binds to.</summary>
    private static readonly (string Section, Type Type)[] RootSections =
    [
        (EngineSections.Hosting, typeof(EngineHostingOptions)),
        (EngineSections.Health, typeof(EngineHealthOptions)),
        (EngineSections.Reporting, typeof(EngineReportingOptions)),
        (EngineSections.Pipelines, typeof(PipelineSettings)),
        (EngineSections.Stages, typeof(StageSettings)),
    ];

    private readonly string _section;

    /// <summary>The instance's name for a named section (<c>{section}:{name}</c>); null for the unnamed options.</summary>
    private readonly string? _name;

    private readonly IConfiguration? _configuration;

    /// <summary>The registrations, for the root check; null when this is not it.</summary>
    private readonly IEnumerable<EngineRegistration>? _registrations;

    public SectionCheck(string section, string? name, IConfiguration? configuration, IEnumerable<EngineRegistration>? registrations = null)
    {
        _section = section;
        _name = name;
        _configuration = configuration;
        _registrations = registrations;
    }

    public void Configure(TOptions options) => Configure(Options.DefaultName, options);

    public void Configure(string? name, TOptions options)
    {
        if (_configuration is null || (_name is null ? !string.IsNullOrEmpty(name) : name != _name))
        {
            return;
        }

        var failures = new List<string>();
        if (_registrations is not null)
        {
            CheckRoot(_configuration.GetSection("Engine"), _registrations, failures);
        }

        ConfigurationShape.Check(_configuration.GetSection(_name is null ? _section : $"{_section}:{_name}"), typeof(TOptions), failures);
        if (failures.Count > 0)
        {
            throw new OptionsValidationException(name ?? Options.DefaultName, typeof(TOptions), failures);
        }
    }

    private static void CheckRoot(IConfigurationSection engine, IEnumerable<EngineRegistration> registrations, List<string> failures)
    {
        foreach (IConfigurationSection section in engine.GetChildren())
        {
            if (!RootSections.Any(s => string.Equals(s.Section, section.Path, StringComparison.OrdinalIgnoreCase)))
            {
                failures.Add($"{section.Path}: unknown section; Engine has {string.Join(", ", RootSections.Select(s => s.Section["Engine:".Length..]))}.");
            }
        }

        CheckNames(engine.GetSection("Pipelines"), "pipeline", registrations, failures);
        CheckNames(engine.GetSection("Stages"), "stage", registrations, failures);
    }

    /// <summary>Every entry under <c>Engine:Pipelines</c> (or <c>Engine:Stages</c>) must name one registered; each registered one checks its own entry.</summary>
    private static void CheckNames(IConfigurationSection section, string kind, IEnumerable<EngineRegistration> registrations, List<string> failures)
    {
        string[] names = [.. registrations.Where(r => r.Kind == kind).Select(r => r.Name)];
        foreach (IConfigurationSection entry in section.GetChildren())
        {
            if (!names.Contains(entry.Key, StringComparer.OrdinalIgnoreCase))
            {
                string registered = names.Length == 0 ? "none is registered" : "registered: " + string.Join(", ", names);
                failures.Add($"{entry.Path}: no {kind} of this name is registered ({registered}).");
            }
        }
    }
}
