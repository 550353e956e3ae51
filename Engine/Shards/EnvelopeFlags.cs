namespace Engine.Shards;

/// <summary>Marks on an <see cref="Envelope{T}"/> set while it is taken.</summary>
[Flags]
internal enum EnvelopeFlags : byte
{
    None = 0,

    /// <summary>Content dedupe found it identical to its key's last processed item: skip it.</summary>
    ContentDuplicate = 1,
}
