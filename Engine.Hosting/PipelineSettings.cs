using System.ComponentModel.DataAnnotations;

namespace Engine.Hosting;

/// <summary>
/// A pipeline's settings from configuration, <c>Engine:Pipelines:{name}</c>, checked when the host
/// starts. A stage named under <see cref="Stages"/> that the pipeline does not have fails the start,
/// so a misspelt name is not silently ignored.
/// </summary>
public sealed class PipelineSettings
{
    /// <summary>
    /// How long the pipeline may drain when the host stops (overrides
    /// <see cref="EngineHostingOptions.DrainTimeout"/>); from 0 to 1 day. The default (null) takes that one.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00")]
    public TimeSpan? DrainTimeout { get; set; }

    /// <summary>Whether the pipeline's stages record timings (a stage's own setting wins). The default (null) is true.</summary>
    public bool? Metrics { get; set; }

    /// <summary>Per-stage settings, by stage name (case-insensitive).</summary>
    public Dictionary<string, StageSettings> Stages { get; } = new(StringComparer.OrdinalIgnoreCase);
}
