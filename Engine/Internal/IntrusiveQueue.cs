using System.Diagnostics;

namespace Engine.Internal;

/// <summary>
/// Nodes in arrival order, linked through themselves (<see cref="IIntrusiveNode{TWaiter}"/>): first
/// come, first served, and removing a node from the middle (a cancelled waiter, a window that closed)
/// costs nothing and allocates nothing. Used for the waiters of the concurrency limiter and the ring
/// channel, and for a window shard's open windows, oldest first. Not thread-safe: its owner calls it
/// under its own lock; <see cref="Count"/> may be read without it.
/// </summary>
/// <typeparam name="TWaiter">The waiters.</typeparam>
[DebuggerDisplay("Count = {Count}")]
internal sealed class IntrusiveQueue<TWaiter>
    where TWaiter : class, IIntrusiveNode<TWaiter>
{
    private TWaiter? _last;
    private int _count;

    /// <summary>The oldest waiter, or null when none waits.</summary>
    public TWaiter? First { get; private set; }

    /// <summary>Waiters queued now; written under the owner's lock, readable without it.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Queues <paramref name="waiter"/> last.</summary>
    public void Add(TWaiter waiter)
    {
        Debug.Assert(!waiter.Queued, "a waiter is queued once");
        waiter.Previous = _last;
        waiter.Next = null;
        if (_last is null)
        {
            First = waiter;
        }
        else
        {
            _last.Next = waiter;
        }

        _last = waiter;
        waiter.Queued = true;
        Volatile.Write(ref _count, _count + 1);
    }

    /// <summary>Takes <paramref name="waiter"/> out of the queue.</summary>
    /// <returns>False when it was not queued (already taken or removed).</returns>
    public bool Remove(TWaiter waiter)
    {
        if (!waiter.Queued)
        {
            return false;
        }

        if (waiter.Previous is null)
        {
            First = waiter.Next;
        }
        else
        {
            waiter.Previous.Next = waiter.Next;
        }

        if (waiter.Next is null)
        {
            _last = waiter.Previous;
        }
        else
        {
            waiter.Next.Previous = waiter.Previous;
        }

        waiter.Previous = null;
        waiter.Next = null;
        waiter.Queued = false;
        Volatile.Write(ref _count, _count - 1);
        return true;
    }

    /// <summary>Takes the oldest waiter out of the queue; null when none waits.</summary>
    public TWaiter? TakeFirst()
    {
        TWaiter? first = First;
        if (first is not null)
        {
            Remove(first);
        }

        return first;
    }
}
