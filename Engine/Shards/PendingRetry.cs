using System.Diagnostics;

namespace Engine.Shards;

/// <summary>
/// A failed item waiting for its backoff. Exactly one of the timer (<see cref="Fired"/>) and an abort
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
