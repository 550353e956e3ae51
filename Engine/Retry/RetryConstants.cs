namespace Engine.Retry;

/// <summary>The defaults of <see cref="RetryOptions"/>, in one place.</summary>
internal static class RetryConstants
{
    public const int DefaultMaxAttempts = 3;
    public const double DefaultBackoffMultiplier = 2.0;
    public const double DefaultJitterRatio = 0.2;
    public static readonly TimeSpan DefaultBaseDelay = TimeSpan.FromMilliseconds(100);
    public static readonly TimeSpan DefaultMaxDelay = TimeSpan.FromSeconds(30);
}
