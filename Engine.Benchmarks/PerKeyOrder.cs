namespace Engine.Benchmarks;

/// <summary>
/// Counts items seen out of order per key: each key's ids must arrive increasing. Needs no lock
/// because every contender handles one key on one thread at a time (that is what is being checked);
/// the out-of-order count is shared and rare, so it is interlocked.
/// </summary>
internal sealed class PerKeyOrder
{
    private readonly int[] _last;
    private long _outOfOrder;

    /// <summary>Tracks keys 0 to <paramref name="keys"/> - 1.</summary>
    /// <param name="keys">How many keys.</param>
    public PerKeyOrder(int keys)
    {
        _last = new int[keys];
        Reset();
    }

    /// <summary>How many items arrived after a later item of their key.</summary>
    public long OutOfOrder => Interlocked.Read(ref _outOfOrder);

    /// <summary>Forgets everything seen.</summary>
    public void Reset()
    {
        Array.Fill(_last, -1);
        _outOfOrder = 0;
    }

    /// <summary>Records that item <paramref name="id"/> of <paramref name="key"/> arrived.</summary>
    /// <param name="key">The key.</param>
    /// <param name="id">The item's position in the input; increasing per key in input order.</param>
    public void See(int key, int id)
    {
        if (id < _last[key])
        {
            Interlocked.Increment(ref _outOfOrder);
        }

        _last[key] = id;
    }
}
