using System.Runtime.InteropServices;

namespace Engine.Queues;

/// <summary>
/// A long alone on its cache line (a line of padding on each side), so a ring's head and tail, moved
/// by different threads, do not share one; beside it on the same line, the owner's last sight of the
/// other end (<see cref="Seen"/>), so the hot side need not read the other side's line on every
/// operation. Not nested in the generic ring: a generic type cannot have an explicit layout.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 128)]
internal struct PaddedLong
{
    /// <summary>The value.</summary>
    [FieldOffset(64)]
    public long Value;

    /// <summary>
    /// The last value read of the other end (the head, beside a tail; the tail, beside a head). Plain
    /// reads and writes: both ends only grow, so a stale or overwritten sight is an older, smaller
    /// value, and every check made against it errs safe.
    /// </summary>
    [FieldOffset(72)]
    public long Seen;
}
