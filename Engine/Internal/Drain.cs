namespace Engine.Internal;

/// <summary>The wait half of a stop: let something drain for a while on a given clock.</summary>
internal static class Drain
{
    /// <summary>
    /// Waits until <paramref name="completion"/> ends, <paramref name="drainTimeout"/> passes on
    /// <paramref name="clock"/>, or <paramref name="cancellationToken"/> fires, whichever is first.
    /// Never throws for any of them; the caller looks at <paramref name="completion"/> afterwards.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="drainTimeout"/> is negative and not infinite.</exception>
    public static async Task WaitAsync(Task completion, TimeSpan drainTimeout, TimeProvider clock, string owner, CancellationToken cancellationToken)
    {
        if (drainTimeout < TimeSpan.Zero && drainTimeout != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(drainTimeout), drainTimeout, $"{owner}: the drain timeout must be zero or more, or infinite.");
        }

        if (completion.IsCompleted || drainTimeout == TimeSpan.Zero)
        {
            return;
        }

        using var stopWaiting = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Task elapsed = Task.Delay(drainTimeout, clock, stopWaiting.Token);
        await Task.WhenAny(completion, elapsed).ConfigureAwait(false);
        await stopWaiting.CancelAsync().ConfigureAwait(false);
    }
}
