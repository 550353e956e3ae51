namespace Engine.Tests.Support;

/// <summary>
/// Records, on one logical clock, when each write started and returned and when each item's handler
/// runs started, and checks the ordering rule: for two items of one order key (the routing key, or the
/// dedupe key where it is finer), if the first one's write returned before the second one's started,
/// every run of the first starts before any run of the second. Items that never ran (superseded,
/// dropped, abandoned) are exempt; so are writes that threw.
/// </summary>
internal sealed class WriteOrderLog
{
    private readonly long[] _writeStarted;
    private readonly long[] _writeReturned;
    private readonly long[] _firstStart;
    private readonly long[] _lastStart;
    private readonly int[] _orderKey;
    private readonly string[] _label;
    private long _clock;

    public WriteOrderLog(int items)
    {
        _writeStarted = new long[items];
        _writeReturned = new long[items];
        _firstStart = new long[items];
        _lastStart = new long[items];
        _orderKey = new int[items];
        _label = new string[items];
    }

    /// <summary>Call just before the item's write is called.</summary>
    public void WriteStarted(int id, int orderKey, string label)
    {
        _orderKey[id] = orderKey;
        _label[id] = label;
        Volatile.Write(ref _writeStarted[id], Interlocked.Increment(ref _clock));
    }

    /// <summary>Call once the item's write returned (not when it threw).</summary>
    public void WriteReturned(int id) => Volatile.Write(ref _writeReturned[id], Interlocked.Increment(ref _clock));

    /// <summary>Call first thing in the handler. Runs of one key never overlap, so plain writes per item do.</summary>
    public void RunStarted(int id)
    {
        long now = Interlocked.Increment(ref _clock);
        if (Volatile.Read(ref _firstStart[id]) == 0)
        {
            Volatile.Write(ref _firstStart[id], now);
        }

        Volatile.Write(ref _lastStart[id], now);
    }

    /// <summary>
    /// For a stage fed by another one's runs: item <paramref name="id"/>'s write here counts as started
    /// when its first run upstream started and as returned when its last run upstream started. For two
    /// items of one upstream key that is exact enough: runs of a key never overlap and a run forwards
    /// its outputs before it ends, so an item whose last run upstream started before another's first
    /// had been handed on before the other was written.
    /// </summary>
    public void Follow(int id, int orderKey, string label, WriteOrderLog upstream)
    {
        _orderKey[id] = orderKey;
        _label[id] = label;
        _writeStarted[id] = upstream._firstStart[id];
        _writeReturned[id] = upstream._lastStart[id];
    }

    /// <summary>Whether the item's handler ever started.</summary>
    public bool Ran(int id) => Volatile.Read(ref _firstStart[id]) != 0;

    /// <summary>The first violation of the ordering rule, described; null when there is none.</summary>
    public string? FirstViolation()
    {
        foreach (IGrouping<int, int> key in Enumerable.Range(0, _orderKey.Length)
                     .Where(id => _writeReturned[id] != 0 && _firstStart[id] != 0)
                     .GroupBy(id => _orderKey[id]))
        {
            // Sweep the later items by when their write started; the earlier ones by when theirs
            // returned, keeping the one whose last run started latest.
            int[] byReturn = [.. key.OrderBy(id => _writeReturned[id])];
            int[] byStart = [.. key.OrderBy(id => _writeStarted[id])];
            int next = 0;
            int latest = -1;
            foreach (int later in byStart)
            {
                while (next < byReturn.Length && _writeReturned[byReturn[next]] < _writeStarted[later])
                {
                    int earlier = byReturn[next++];
                    if (latest < 0 || _lastStart[earlier] > _lastStart[latest])
                    {
                        latest = earlier;
                    }
                }

                if (latest >= 0 && _lastStart[latest] > _firstStart[later])
                {
                    return $"order key {key.Key}: {_label[latest]} (write returned at {_writeReturned[latest]}) ran at {_lastStart[latest]}, " +
                        $"after {_label[later]} (write started at {_writeStarted[later]}) started at {_firstStart[later]}";
                }
            }
        }

        return null;
    }
}
