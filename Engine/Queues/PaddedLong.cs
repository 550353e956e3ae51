using System.Runtime.InteropServices;

namespace Engine.Queues;

/// <summary>
/// A long alone on its cache line (a line of padding on each side), so a ring's head and tail, moved
/// by different threads, do not share one. Not nested in the generic ring: a generic type cannot have
/// an explicit layout.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 128)]
internal struct PaddedLong
{
    /// <summary>The value.</summary>
    [FieldOffset(64)]
    public long Value;
}
