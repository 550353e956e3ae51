namespace Engine.Windows;

/// <summary>The shapes of keyed window (internal: each has its own step).</summary>
internal enum WindowKind
{
    /// <summary>Fixed length, aligned to multiples of the length since the Unix epoch on the pipeline's clock.</summary>
    Tumbling,

    /// <summary>Closes after a gap without items, or at a maximum length from its first item.</summary>
    Session,

    /// <summary>Up to a number of items, or a wait from its first item, whichever comes first.</summary>
    Batch,
}
