using System.Runtime.InteropServices;
using Engine.Dedupe;

namespace Engine.Shards;

/// <summary>
/// One shard's item counters. Only that shard's writers and workers touch them (with
/// <see cref="Interlocked"/> where a shard may have several of each), so no lock or cache line is
/// shared across shards.
/// </summary>
/// <remarks>
/// The counters writers bump and the counters workers bump sit 128 bytes apart (two cache lines, past
/// the adjacent-line prefetcher), so a writer thread and a worker thread of one shard do not steal
/// each other's cache line on every item.
/// </remarks>
[StructLayout(LayoutKind.Explicit, Size = 256)]
internal sealed class ShardCounters
{
    // Bumped on the writing side: accepting, refusing, and what a write does to other items.
    // Items accepted without entering the shard's channel (a dedupe replace, a DropWrite drop); the
    // channel counts the rest as it takes them (Shard.Accepted adds both).
    [FieldOffset(0)]
    public long AcceptedOutsideChannel;
    [FieldOffset(8)]
    public long Refused;
    [FieldOffset(16)]
    public long DroppedOldest;
    [FieldOffset(24)]
    public long DroppedNewest;
    [FieldOffset(32)]
    public long DroppedWrite;
    [FieldOffset(40)]
    public long SupersededPending;
    [FieldOffset(48)]
    public long SupersededMerged;
    [FieldOffset(56)]
    public long SupersededInFlight;

    // Timed holds (issue 26): bumped under the shard's lock or on its failure path, never on a plain item.
    [FieldOffset(64)]
    public long Delayed;
    [FieldOffset(72)]
    public long SupersededDelayed;

    // Bumped on the worker side.
    [FieldOffset(128)]
    public long Processed;
    [FieldOffset(136)]
    public long InFlight;
    [FieldOffset(144)]
    public long DeadLettered;
    [FieldOffset(152)]
    public long Abandoned;
    [FieldOffset(160)]
    public long Retries;
    [FieldOffset(168)]
    public long HandlerErrors;
    [FieldOffset(176)]
    public long CallbackErrors;
    [FieldOffset(184)]
    public long SupersededContent;
    [FieldOffset(192)]
    public long SupersededStaleRetry;
    [FieldOffset(200)]
    public long Requeued;
    [FieldOffset(208)]
    public long Deferred;
    [FieldOffset(216)]
    public long RateLimited;
    [FieldOffset(224)]
    public long DroppedRateLimited;

    public void CountSupersede(SupersedeReason reason)
    {
        switch (reason)
        {
            case SupersedeReason.Pending:
                Interlocked.Increment(ref SupersededPending);
                break;
            case SupersedeReason.Merged:
                Interlocked.Increment(ref SupersededMerged);
                break;
            case SupersedeReason.InFlight:
                Interlocked.Increment(ref SupersededInFlight);
                break;
            case SupersedeReason.Content:
                Interlocked.Increment(ref SupersededContent);
                break;
            case SupersedeReason.Delayed:
                Interlocked.Increment(ref SupersededDelayed);
                break;
            default:
                Interlocked.Increment(ref SupersededStaleRetry);
                break;
        }
    }

    public void CountDrop(DropReason reason)
    {
        switch (reason)
        {
            case DropReason.DropOldest:
                Interlocked.Increment(ref DroppedOldest);
                break;
            case DropReason.DropNewest:
                Interlocked.Increment(ref DroppedNewest);
                break;
            case DropReason.RateLimited:
                Interlocked.Increment(ref DroppedRateLimited);
                break;
            default:
                Interlocked.Increment(ref DroppedWrite);
                break;
        }
    }

    /// <summary>The counters as a <see cref="StageCounts"/>; waiting and pending come from the shard.</summary>
    /// <remarks><see cref="AcceptedOutsideChannel"/> counts only what was accepted outside the shard's channel (a replace, a drop by the full mode).</remarks>
    /// <param name="acceptedByChannel">The items the shard's channel counted as it accepted them (see <c>CountingChannel.Accepted</c>).</param>
    /// <param name="waiting">Items waiting now.</param>
    /// <param name="pending">Items accepted and not yet settled now.</param>
    public StageCounts Read(long acceptedByChannel, long waiting, long pending) => new()
    {
        Accepted = Volatile.Read(ref AcceptedOutsideChannel) + acceptedByChannel,
        Processed = Volatile.Read(ref Processed),
        DeadLettered = Volatile.Read(ref DeadLettered),
        DroppedOldest = Volatile.Read(ref DroppedOldest),
        DroppedNewest = Volatile.Read(ref DroppedNewest),
        DroppedWrite = Volatile.Read(ref DroppedWrite),
        Abandoned = Volatile.Read(ref Abandoned),
        Refused = Volatile.Read(ref Refused),
        Retries = Volatile.Read(ref Retries),
        HandlerErrors = Volatile.Read(ref HandlerErrors),
        CallbackErrors = Volatile.Read(ref CallbackErrors),
        InFlight = Volatile.Read(ref InFlight),
        SupersededPending = Volatile.Read(ref SupersededPending),
        SupersededMerged = Volatile.Read(ref SupersededMerged),
        SupersededInFlight = Volatile.Read(ref SupersededInFlight),
        SupersededContent = Volatile.Read(ref SupersededContent),
        SupersededStaleRetry = Volatile.Read(ref SupersededStaleRetry),
        SupersededDelayed = Volatile.Read(ref SupersededDelayed),
        DroppedRateLimited = Volatile.Read(ref DroppedRateLimited),
        Delayed = Volatile.Read(ref Delayed),
        Requeued = Volatile.Read(ref Requeued),
        Deferred = Volatile.Read(ref Deferred),
        RateLimited = Volatile.Read(ref RateLimited),
        Waiting = waiting,
        Pending = pending,
    };
}
