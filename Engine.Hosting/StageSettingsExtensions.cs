using Engine.Stages;

namespace Engine.Hosting;

/// <summary>Applies settings from configuration onto a stage's options.</summary>
internal static class StageSettingsExtensions
{
    /// <summary>Every value that is set overrides the option; unset ones leave it as the code made it.</summary>
    public static void ApplyTo<T>(this StageSettings settings, StageOptions<T> options)
    {
        options.Shards = settings.Shards ?? options.Shards;
        options.Capacity = settings.Capacity ?? options.Capacity;
        options.WorkersPerShard = settings.WorkersPerShard ?? options.WorkersPerShard;
        options.UnkeyedWorkers = settings.UnkeyedWorkers ?? options.UnkeyedWorkers;
        options.FullMode = settings.FullMode ?? options.FullMode;
        options.Metrics = settings.Metrics ?? options.Metrics;
    }
}
