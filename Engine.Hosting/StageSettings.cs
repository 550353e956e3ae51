using System.ComponentModel.DataAnnotations;

namespace Engine.Hosting;

/// <summary>
/// A stage's settings from configuration: <c>Engine:Stages:{name}</c> for a stand-alone stage,
/// <c>Engine:Pipelines:{pipeline}:Stages:{stage}</c> for a pipeline's stage. Each value that is set
/// overrides what the code configured (so operators tune a stage without a rebuild); a value left
/// unset (null, the default) keeps the code's. Bounds are those of <see cref="Engine.Stages.StageOptions{T}"/>
/// and are checked when the host starts.
/// </summary>
public sealed class StageSettings
{
    /// <summary>Overrides <see cref="Engine.Stages.StageOptions{T}.Shards"/>; from 1 to 4096.</summary>
    [Range(1, 4096)]
    public int? Shards { get; set; }

    /// <summary>Overrides <see cref="Engine.Stages.StageOptions{T}.Capacity"/>; from 1 to 16,777,216.</summary>
    [Range(1, 1 << 24)]
    public int? Capacity { get; set; }

    /// <summary>Overrides <see cref="Engine.Stages.StageOptions{T}.WorkersPerShard"/>; from 1 to 1024.</summary>
    [Range(1, 1024)]
    public int? WorkersPerShard { get; set; }

    /// <summary>Overrides <see cref="Engine.Stages.StageOptions{T}.UnkeyedWorkers"/>; from 1 to 1024.</summary>
    [Range(1, 1024)]
    public int? UnkeyedWorkers { get; set; }

    /// <summary>Overrides <see cref="Engine.Stages.StageOptions{T}.FullMode"/>.</summary>
    [EnumDataType(typeof(StageFullMode))]
    public StageFullMode? FullMode { get; set; }

    /// <summary>Overrides <see cref="Engine.Stages.StageOptions{T}.Metrics"/>.</summary>
    public bool? Metrics { get; set; }

    /// <summary>
    /// For a stand-alone stage: how long it may drain when the host stops (overrides
    /// <see cref="EngineHostingOptions.DrainTimeout"/>); from 0 to 1 day. Ignored for a pipeline's stage
    /// (the pipeline drains as a whole).
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00")]
    public TimeSpan? DrainTimeout { get; set; }
}
