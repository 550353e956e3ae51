using Engine.Dedupe;
using Engine.Stages;

namespace Engine.Shards;

/// <summary>
/// One shard's item counters. Only that shard's writers and workers touch them (with
/// <see cref="Interlocked"/>, since a shard may have several of each), so no lock or cache line is
/// shared across shards.
/// </summary>
internal sealed class ShardCounters
{
    public long Accepted;
    public long Processed;
    public long DeadLettered;
    public long DroppedOldest;
    public long DroppedNewest;
    public long DroppedWrite;
    public long Abandoned;
    public long Refused;
    public long Retries;
    public long HandlerErrors;
    public long CallbackErrors;
    public long InFlight;
    public long SupersededPending;
    public long SupersededMerged;
    public long SupersededInFlight;
    public long SupersededContent;
    public long SupersededStaleRetry;

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
            default:
                Interlocked.Increment(ref DroppedWrite);
                break;
        }
    }

    /// <summary>The counters as a <see cref="StageCounts"/>; waiting and pending come from the shard.</summary>
    public StageCounts Read(long waiting, long pending) => new()
    {
        Accepted = Volatile.Read(ref Accepted),
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
        Waiting = waiting,
        Pending = pending,
    };
}
