namespace Engine.Dedupe;

/// <summary>The defaults and bounds of <see cref="DedupeOptions{T}"/>, in one place.</summary>
internal static class DedupeConstants
{
    public const int DefaultMaxTrackedKeys = 100_000;
    public const int MaxTrackedKeysLimit = 1 << 26;
}
