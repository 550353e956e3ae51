namespace Engine.Internal;

/// <summary>
/// A node of an <see cref="IntrusiveQueue{TWaiter}"/>: the links live in the node itself, so a node
/// (a waiter whose wait was cancelled, a window that closed) leaves the middle of the queue at once and
/// nothing is allocated for the queue. Only the queue sets these, under its owner's lock.
/// </summary>
/// <typeparam name="TWaiter">The waiter type itself.</typeparam>
internal interface IIntrusiveNode<TWaiter>
    where TWaiter : class, IIntrusiveNode<TWaiter>
{
    /// <summary>The waiter queued just before this one; null for the first.</summary>
    TWaiter? Previous { get; set; }

    /// <summary>The waiter queued just after this one; null for the last.</summary>
    TWaiter? Next { get; set; }

    /// <summary>Whether the waiter is in a queue now.</summary>
    bool Queued { get; set; }
}
