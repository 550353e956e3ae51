using System.Diagnostics;

namespace Engine.Shards;

/// <summary>
/// A failed item waiting for its backoff, or an item held for its time for another <see cref="HoldReason"/>. Exactly one of the timer (<see cref="Fired"/>) and an abort
/// (<see cref="Cancelled"/>) wins <see cref="State"/>, so the item is re-run or abandoned, never both.
/// </summary>
[DebuggerDisplay("Key = {Envelope.Key}, Attempts = {Envelope.Attempts}, State = {State}")]
internal sealed class PendingRetry<T>
{
    public const int Pending = 0;
    public const int Fired = 1;
    public const int Cancelled = 2;

    /// <summary>The item, with the attempts made so far.</summary>
    public Envelope<T> Envelope;

    /// <summary>Pending, Fired or Cancelled; moved only by compare-exchange from Pending.</summary>
    public int State;

    /// <summary>The backoff timer; set after creation, so a callback may run before it is assigned.</summary>
    public ITimer? Timer;

    /// <summary>Why the item waits: a retry's backoff, or one of the timed holds of <c>Shard.Timed.cs</c>.</summary>
    public HoldReason Reason;

    /// <summary>For a timed hold: when the item is due (<see cref="TimeProvider.GetTimestamp"/> ticks); a debounce moves it later.</summary>
    public long Due;

    /// <summary>For a debounce: when its key's first pending update came (the max wait counts from it).</summary>
    public long Since;

    /// <summary>
    /// For a timed hold: the item has not claimed its key yet and joins its key's order when due (a delay
    /// that lets later items overtake, a debounce).
    /// </summary>
    public bool JoinsKeyWhenDue;

    public PendingRetry(RetryTimers<T> owner, in Envelope<T> envelope)
    {
        Owner = owner;
        Envelope = envelope;
    }

    /// <summary>The timers that hold the retry.</summary>
    public RetryTimers<T> Owner { get; }

    /// <summary>Claims the retry for one outcome; false when the other outcome already claimed it.</summary>
    public bool TryClaim(int outcome) => Interlocked.CompareExchange(ref State, outcome, Pending) == Pending;
}
