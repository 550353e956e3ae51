namespace Engine.Nats;

/// <summary>Defaults and bounds of <see cref="NatsStageOptions{T}"/>, in one place.</summary>
internal static class NatsStageConstants
{
    public const int DefaultPartitions = 64;
    public const int MaxPartitions = 1024;
    public const int DefaultMaxAckPending = 256;
    public const int MaxMaxAckPending = 100_000;
    public const int DefaultStartupAttempts = 5;
    public const int MaxNameLength = 32;
    public static readonly TimeSpan DefaultLeaseTtl = TimeSpan.FromSeconds(3);
    public static readonly TimeSpan MinLeaseTtl = TimeSpan.FromMilliseconds(500);
    public static readonly TimeSpan MaxLeaseTtl = TimeSpan.FromMinutes(5);
    public static readonly TimeSpan DefaultAckWait = TimeSpan.FromSeconds(30);
    public static readonly TimeSpan MinAckWait = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan DefaultPublishTimeout = TimeSpan.FromSeconds(5);
    public static readonly TimeSpan DefaultDuplicateWindow = TimeSpan.FromMinutes(2);
    public static readonly TimeSpan DefaultDrainTimeout = TimeSpan.FromSeconds(30);
}
