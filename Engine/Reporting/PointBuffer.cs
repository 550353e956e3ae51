namespace Engine.Reporting;

/// <summary>
/// Points (one line-protocol line each) waiting to be sent, oldest first, at most a fixed number:
/// adding to a full buffer drops the oldest. Used by one flush at a time, but emptied by the
/// reporter's <c>Dispose</c>, which may run while a flush abandoned after its time bound still does:
/// hence the lock. The count may be read from any thread without it.
/// </summary>
internal sealed class PointBuffer
{
    private readonly Queue<string> _points = new();
    private readonly Lock _lock = new();
    private readonly int _capacity;
    private long _count;

    public PointBuffer(int capacity) => _capacity = capacity;

    public long Count => Volatile.Read(ref _count);

    /// <summary>Adds points; returns how many old ones were dropped to make room.</summary>
    public long Add(IEnumerable<string> points)
    {
        lock (_lock)
        {
            long dropped = 0;
            foreach (string point in points)
            {
                if (_points.Count == _capacity)
                {
                    _points.Dequeue();
                    dropped++;
                }

                _points.Enqueue(point);
            }

            Volatile.Write(ref _count, _points.Count);
            return dropped;
        }
    }

    /// <summary>The oldest points, up to <paramref name="max"/>, without removing them.</summary>
    public List<string> Peek(int max)
    {
        lock (_lock)
        {
            return [.. _points.Take(max)];
        }
    }

    /// <summary>Removes the <paramref name="count"/> oldest points (after they were sent or given up).</summary>
    public void Remove(int count)
    {
        lock (_lock)
        {
            for (int i = 0; i < count && _points.Count > 0; i++)
            {
                _points.Dequeue();
            }

            Volatile.Write(ref _count, _points.Count);
        }
    }

    /// <summary>Removes every point; returns how many there were.</summary>
    public long Clear()
    {
        lock (_lock)
        {
            long cleared = _points.Count;
            _points.Clear();
            Volatile.Write(ref _count, 0);
            return cleared;
        }
    }
}
