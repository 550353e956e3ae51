using System.ComponentModel.DataAnnotations;
using Engine.Reporting;
using Microsoft.Extensions.Options;

namespace Engine.Hosting;

/// <summary>
/// Validates options bound from a configuration section with their data annotations, nested settings
/// included (which <c>ValidateDataAnnotations</c> would skip), and names each failure by its full
/// configuration key, e.g. <c>Engine:Pipelines:orders:Stages:enrich:Shards: The field Shards must be between 1 and 4096.</c>
/// </summary>
/// <typeparam name="TOptions">The options type.</typeparam>
internal sealed class SectionValidator<TOptions> : IValidateOptions<TOptions>
    where TOptions : class
{
    /// <summary>The section, or the parent of the named sections when <see cref="_named"/>.</summary>
    private readonly string _section;

    /// <summary>Whether each named instance has its own section under <see cref="_section"/>.</summary>
    private readonly bool _named;

    public SectionValidator(string section, bool named)
    {
        _section = section;
        _named = named;
    }

    public ValidateOptionsResult Validate(string? name, TOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (_named && string.IsNullOrEmpty(name))
        {
            // Named settings are only read by name; the unnamed instance is never used.
            return ValidateOptionsResult.Skip;
        }

        string path = _named ? $"{_section}:{name}" : _section;
        var failures = new List<string>();
        Collect(options, path, failures);
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    internal static void Collect(object options, string path, List<string> failures)
    {
        var results = new List<ValidationResult>();
        Validator.TryValidateObject(options, new ValidationContext(options), results, validateAllProperties: true);
        foreach (ValidationResult result in results)
        {
            string member = result.MemberNames.FirstOrDefault() ?? "";
            failures.Add($"{path}:{member}: {result.ErrorMessage}");
        }

        switch (options)
        {
            case PipelineSettings pipeline:
                foreach ((string stage, StageSettings settings) in pipeline.Stages)
                {
                    Collect(settings, $"{path}:Stages:{stage}", failures);
                }

                break;
            case EngineReportingOptions reporting:
                if (reporting.Console is { } console)
                {
                    Collect(console, $"{path}:Console", failures);
                }

                if (reporting.InfluxDb is { } influx)
                {
                    int before = failures.Count;
                    Collect(influx, $"{path}:InfluxDb", failures);
                    if (!Uri.TryCreate(influx.Url, UriKind.Absolute, out Uri? url) || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps))
                    {
                        failures.Add($"{path}:InfluxDb:Url: must be an absolute http or https URL such as http://127.0.0.1:8086, not '{influx.Url}'.");
                    }
                    else if (failures.Count == before)
                    {
                        // The reporter's own checks of how settings combine (1.x Database or 2.x
                        // Organization/Bucket/Token, Username with Password), named by configuration key
                        // instead of by option: making one sends nothing.
                        try
                        {
                            new InfluxDbReporter(influx).Dispose();
                        }
                        catch (ArgumentException ex) when (ex.ParamName?.StartsWith("options.", StringComparison.Ordinal) == true)
                        {
                            string option = ex.ParamName["options.".Length..];
                            string problem = ex.Message[(ex.Message.IndexOf(ex.ParamName, StringComparison.Ordinal) + ex.ParamName.Length)..].Replace($" (Parameter '{ex.ParamName}')", string.Empty, StringComparison.Ordinal).Trim();
                            failures.Add($"{path}:InfluxDb:{option}: {problem}");
                        }
                    }
                }

                if (reporting is { Console.Name: { } consoleName, InfluxDb.Name: { } influxName } && string.Equals(consoleName, influxName, StringComparison.Ordinal))
                {
                    failures.Add($"{path}:InfluxDb:Name: '{influxName}' is the console reporter's name too; each reporter needs a unique Name.");
                }

                break;
        }
    }
}
