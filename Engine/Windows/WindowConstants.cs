namespace Engine.Windows;

/// <summary>The defaults of the keyed window steps, in one place.</summary>
internal static class WindowConstants
{
    /// <summary>The default of <see cref="KeyedWindowOptions{T}.MaxOpenWindows"/>.</summary>
    public const int DefaultMaxOpenWindows = 100_000;
}
