namespace Engine.Dedupe;

/// <summary>Why an accepted item was superseded (settled without its handler running for it).</summary>
public enum SupersedeReason
{
    /// <summary>A newer item of its dedupe key replaced it while it waited in the channel.</summary>
    Pending = 0,

    /// <summary>A newer item of its dedupe key was merged into it while it waited in the channel (the merge result runs).</summary>
    Merged,

    /// <summary>It was held back behind its key's running (or retrying) item, and a newer item replaced or merged into it.</summary>
    InFlight,

    /// <summary>Its content hash equalled that of the last item of its key that was processed successfully.</summary>
    Content,

    /// <summary>It was waiting for a retry's backoff when a newer item of its dedupe key arrived, which runs instead.</summary>
    StaleRetry,

    /// <summary>It was waiting for its time (a delayed write, a debounce) when a newer item of its dedupe key replaced or merged into it; it keeps its place and time (a debounce: its quiet period starts again).</summary>
    Delayed,
}
