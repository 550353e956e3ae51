namespace Engine.Stages;

/// <summary>The defaults and bounds of <see cref="StageOptions{T}"/>, in one place.</summary>
internal static class StageConstants
{
    public const int DefaultShards = 4;
    public const int MaxShards = 4096;
    public const int DefaultCapacity = 1024;
    public const int MaxCapacity = 1 << 24;
    public const int DefaultWorkers = 1;
    public const int MaxWorkers = 1024;
    public const int DefaultLatencySampling = 16;
    public const int MaxLatencySampling = 1024;
    public static readonly TimeSpan DefaultDisposeDrainTimeout = TimeSpan.FromSeconds(30);
}
