namespace Engine.Internal;

/// <summary>
/// A node of a <see cref="WaiterQueue{TWaiter}"/>: the links live in the waiter itself, so a waiter
/// whose wait was cancelled leaves the middle of the queue at once and nothing is allocated per wait
/// for the queue. Only the queue sets these, under its owner's lock.
/// </summary>
/// <typeparam name="TWaiter">The waiter type itself.</typeparam>
internal interface IQueuedWaiter<TWaiter>
    where TWaiter : class, IQueuedWaiter<TWaiter>
{
    /// <summary>The waiter queued just before this one; null for the first.</summary>
    TWaiter? Previous { get; set; }

    /// <summary>The waiter queued just after this one; null for the last.</summary>
    TWaiter? Next { get; set; }

    /// <summary>Whether the waiter is in a queue now.</summary>
    bool Queued { get; set; }
}
