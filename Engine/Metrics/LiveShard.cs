namespace Engine.Metrics;

/// <summary>
/// One shard of a live stage as the meter reads it during one collection: its counts are read (under
/// the shard's lock) once, on first use, so an instrument that reads several of them, or none, costs
/// one read or none. The meter moves one instance from shard to shard within a collection.
/// </summary>
internal sealed class LiveShard
{
    private IStageMeterSource? _source;
    private int _shard;
    private StageCounts _counts;
    private bool _countsRead;

    /// <summary>The shard's counts now (<see cref="StageCounts.Waiting"/> is its depth).</summary>
    public StageCounts Counts
    {
        get
        {
            if (!_countsRead)
            {
                _counts = _source!.GetShardCounts(_shard);
                _countsRead = true;
            }

            return _counts;
        }
    }

    /// <summary>The shard's cumulative busy time in seconds, including the running part of unfinished runs.</summary>
    public double BusySeconds => _source!.ShardBusySeconds(_shard);

    /// <summary>Points this reader at <paramref name="shard"/> of <paramref name="source"/>, forgetting the previous shard's counts.</summary>
    public void MoveTo(IStageMeterSource source, int shard)
    {
        _source = source;
        _shard = shard;
        _countsRead = false;
    }
}
