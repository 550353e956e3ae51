namespace Engine;

/// <summary>
/// The item accounting of a stage, or of one of its shards, at one moment.
/// </summary>
/// <remarks>
/// Every accepted item ends in exactly one of: processed, dead-lettered, dropped (by reason),
/// superseded (by reason) or abandoned; until then it is pending. Once the stage has completed,
/// <c>Accepted == Processed + DeadLettered + Dropped + Superseded + Abandoned</c> holds exactly
/// (<see cref="IsConserved"/>). While items are moving the counters are read one after the other, so
/// a snapshot may be off by the items that moved while it was taken.
/// </remarks>
public readonly record struct StageCounts
{
    /// <summary>Items the stage accepted (including those a full mode dropped later).</summary>
    public long Accepted { get; init; }

    /// <summary>Items whose handler completed successfully.</summary>
    public long Processed { get; init; }

    /// <summary>Items that failed permanently (non-transient error, or out of attempts).</summary>
    public long DeadLettered { get; init; }

    /// <summary>Items dropped by <see cref="StageFullMode.DropOldest"/>.</summary>
    public long DroppedOldest { get; init; }

    /// <summary>Items dropped by <see cref="StageFullMode.DropNewest"/>.</summary>
    public long DroppedNewest { get; init; }

    /// <summary>Items dropped by <see cref="StageFullMode.DropWrite"/>.</summary>
    public long DroppedWrite { get; init; }

    /// <summary>Items dropped because the stage's rate limit gave them no permit (<c>RateLimitMode.Drop</c>).</summary>
    public long DroppedRateLimited { get; init; }

    /// <summary>All dropped items: the sum of the four drop reasons.</summary>
    public long Dropped => DroppedOldest + DroppedNewest + DroppedWrite + DroppedRateLimited;

    /// <summary>Items replaced by a newer item of their dedupe key while waiting in the channel.</summary>
    public long SupersededPending { get; init; }

    /// <summary>Items merged with a newer item of their dedupe key while waiting in the channel.</summary>
    public long SupersededMerged { get; init; }

    /// <summary>Items held back behind their running key and replaced or merged by a newer one.</summary>
    public long SupersededInFlight { get; init; }

    /// <summary>Items skipped because their content equalled their key's last processed content.</summary>
    public long SupersededContent { get; init; }

    /// <summary>Items waiting for a retry that a newer item of their dedupe key made stale.</summary>
    public long SupersededStaleRetry { get; init; }

    /// <summary>Items waiting for their time (a delayed write, a debounce) that a newer item of their dedupe key replaced or merged into.</summary>
    public long SupersededDelayed { get; init; }

    /// <summary>All superseded items: the sum of the six reasons.</summary>
    public long Superseded => SupersededPending + SupersededMerged + SupersededInFlight + SupersededContent + SupersededStaleRetry + SupersededDelayed;

    /// <summary>Items accepted by a delayed write (<c>WriteAsync(item, delay)</c> or its due-time form), including debounced writes that did not replace a waiting item.</summary>
    public long Delayed { get; init; }

    /// <summary>Handler runs that requeued their item (<c>RequeueException</c>); not failures.</summary>
    public long Requeued { get; init; }

    /// <summary>Handler runs that deferred their item (<c>DeferException</c>); not failures, not charged as attempts.</summary>
    public long Deferred { get; init; }

    /// <summary>Runs held back because the stage's rate limit gave no permit (each wait counts once; drops are in <see cref="DroppedRateLimited"/>).</summary>
    public long RateLimited { get; init; }

    /// <summary>Per-key rate limiters forgotten (least recently used) to stay within <c>RateLimit.MaxKeysPerShard</c>.</summary>
    public long RateLimiterEvictions { get; init; }

    /// <summary>Part of <see cref="Waiting"/>: items waiting for their time now (a delayed write, a requeue, a rate limit, a debounce), on a timer or parked behind their key.</summary>
    public long WaitingDelayed { get; init; }

    /// <summary>Part of <see cref="Waiting"/>: items waiting for a retry's backoff or a deferral now.</summary>
    public long WaitingRetry { get; init; }

    /// <summary>Part of <see cref="Waiting"/>: items that may run as soon as a worker and their key are free (<see cref="Waiting"/> less <see cref="WaitingDelayed"/> and <see cref="WaitingRetry"/>).</summary>
    public long WaitingRunnable => Waiting - WaitingDelayed - WaitingRetry;

    /// <summary>Dedupe keys with a replaceable waiting item now (the size of the dedupe dictionaries).</summary>
    public long DedupeWaitingKeys { get; init; }

    /// <summary>Keys whose last processed content hash is remembered now (the size of the content tables).</summary>
    public long ContentTrackedKeys { get; init; }

    /// <summary>Content hashes forgotten to stay within <c>MaxTrackedKeys</c>.</summary>
    public long ContentEvictions { get; init; }

    /// <summary>Accepted items that an abort left unprocessed (waiting, parked, awaiting a retry, or cancelled in the handler).</summary>
    public long Abandoned { get; init; }

    /// <summary>
    /// Writes the stage turned away without accepting the item: full in <see cref="StageFullMode.Wait"/>
    /// (<c>TryWrite</c>) or <see cref="StageFullMode.Reject"/> mode, written after completion, or whose
    /// key could not be computed. Not part of the identity, because the item never entered.
    /// </summary>
    public long Refused { get; init; }

    /// <summary>Retries scheduled after a transient failure.</summary>
    public long Retries { get; init; }

    /// <summary>Exceptions thrown by the handler (each failed attempt counts once).</summary>
    public long HandlerErrors { get; init; }

    /// <summary>Exceptions thrown by user callbacks (<c>OnDropped</c>, <c>OnDeadLetter</c>, <c>IsTransient</c>); they are swallowed.</summary>
    public long CallbackErrors { get; init; }

    /// <summary>Items inside a handler now.</summary>
    public long InFlight { get; init; }

    /// <summary>Items waiting now: in the shard's channel, parked behind a busy key, ready to run, waiting for a retry's backoff, or waiting for their time (split in <see cref="WaitingRunnable"/>, <see cref="WaitingDelayed"/> and <see cref="WaitingRetry"/>).</summary>
    public long Waiting { get; init; }

    /// <summary>
    /// Accepted items not settled yet (waiting or in flight). Writes waiting for room are not counted;
    /// a write caught between its channel write and its count may be, for that moment. Once the stage
    /// has completed it is 0.
    /// </summary>
    public long Pending { get; init; }

    /// <summary>Whether <c>Accepted == Processed + DeadLettered + Dropped + Superseded + Abandoned + Pending</c>.</summary>
    public bool IsConserved => Accepted == Processed + DeadLettered + Dropped + Superseded + Abandoned + Pending;

    /// <summary>Adds two sets of counts (for summing shards).</summary>
    /// <param name="left">Counts.</param>
    /// <param name="right">More counts.</param>
    /// <returns>The sum, figure by figure.</returns>
    public static StageCounts operator +(StageCounts left, StageCounts right) => new()
    {
        Accepted = left.Accepted + right.Accepted,
        Processed = left.Processed + right.Processed,
        DeadLettered = left.DeadLettered + right.DeadLettered,
        DroppedOldest = left.DroppedOldest + right.DroppedOldest,
        DroppedNewest = left.DroppedNewest + right.DroppedNewest,
        DroppedWrite = left.DroppedWrite + right.DroppedWrite,
        Abandoned = left.Abandoned + right.Abandoned,
        Refused = left.Refused + right.Refused,
        Retries = left.Retries + right.Retries,
        HandlerErrors = left.HandlerErrors + right.HandlerErrors,
        CallbackErrors = left.CallbackErrors + right.CallbackErrors,
        InFlight = left.InFlight + right.InFlight,
        SupersededPending = left.SupersededPending + right.SupersededPending,
        SupersededMerged = left.SupersededMerged + right.SupersededMerged,
        SupersededInFlight = left.SupersededInFlight + right.SupersededInFlight,
        SupersededContent = left.SupersededContent + right.SupersededContent,
        SupersededStaleRetry = left.SupersededStaleRetry + right.SupersededStaleRetry,
        SupersededDelayed = left.SupersededDelayed + right.SupersededDelayed,
        DroppedRateLimited = left.DroppedRateLimited + right.DroppedRateLimited,
        Delayed = left.Delayed + right.Delayed,
        Requeued = left.Requeued + right.Requeued,
        Deferred = left.Deferred + right.Deferred,
        RateLimited = left.RateLimited + right.RateLimited,
        RateLimiterEvictions = left.RateLimiterEvictions + right.RateLimiterEvictions,
        WaitingDelayed = left.WaitingDelayed + right.WaitingDelayed,
        WaitingRetry = left.WaitingRetry + right.WaitingRetry,
        DedupeWaitingKeys = left.DedupeWaitingKeys + right.DedupeWaitingKeys,
        ContentTrackedKeys = left.ContentTrackedKeys + right.ContentTrackedKeys,
        ContentEvictions = left.ContentEvictions + right.ContentEvictions,
        Waiting = left.Waiting + right.Waiting,
        Pending = left.Pending + right.Pending,
    };

    /// <summary>The growth of the cumulative counters since <paramref name="previous"/>; gauges (in flight, waiting, pending, dictionary sizes) stay as they are now.</summary>
    internal StageCounts Minus(StageCounts previous) => this with
    {
        Accepted = Accepted - previous.Accepted,
        Processed = Processed - previous.Processed,
        DeadLettered = DeadLettered - previous.DeadLettered,
        DroppedOldest = DroppedOldest - previous.DroppedOldest,
        DroppedNewest = DroppedNewest - previous.DroppedNewest,
        DroppedWrite = DroppedWrite - previous.DroppedWrite,
        Abandoned = Abandoned - previous.Abandoned,
        Refused = Refused - previous.Refused,
        Retries = Retries - previous.Retries,
        HandlerErrors = HandlerErrors - previous.HandlerErrors,
        CallbackErrors = CallbackErrors - previous.CallbackErrors,
        SupersededPending = SupersededPending - previous.SupersededPending,
        SupersededMerged = SupersededMerged - previous.SupersededMerged,
        SupersededInFlight = SupersededInFlight - previous.SupersededInFlight,
        SupersededContent = SupersededContent - previous.SupersededContent,
        SupersededStaleRetry = SupersededStaleRetry - previous.SupersededStaleRetry,
        SupersededDelayed = SupersededDelayed - previous.SupersededDelayed,
        DroppedRateLimited = DroppedRateLimited - previous.DroppedRateLimited,
        Delayed = Delayed - previous.Delayed,
        Requeued = Requeued - previous.Requeued,
        Deferred = Deferred - previous.Deferred,
        RateLimited = RateLimited - previous.RateLimited,
        RateLimiterEvictions = RateLimiterEvictions - previous.RateLimiterEvictions,
        ContentEvictions = ContentEvictions - previous.ContentEvictions,
    };

    /// <summary>Adds two sets of counts (for summing shards).</summary>
    /// <param name="other">More counts.</param>
    /// <returns>The sum, figure by figure.</returns>
    public StageCounts Add(StageCounts other) => this + other;
}
