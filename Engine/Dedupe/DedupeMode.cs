namespace Engine.Dedupe;

/// <summary>Whether a stage collapses waiting items of one dedupe key.</summary>
public enum DedupeMode
{
    /// <summary>Every accepted item runs (content dedupe may still skip unchanged ones). The default.</summary>
    None = 0,

    /// <summary>
    /// A write whose dedupe key is already waiting replaces (or merges into) the waiting item in its
    /// queue position, taking no new capacity; a write whose key is being processed or retried is held
    /// back and runs once after it, however many such writes arrive.
    /// </summary>
    Replace,
}
