using System.Runtime.InteropServices;

namespace Engine.Internal;

/// <summary>
/// A counter many threads bump at once (a node's forwards, from every shard's workers), spread over
/// cells on separate cache lines chosen by thread, so workers of different shards do not take one
/// cache line from each other on every item. Reads sum the cells: exact once the bumps are done,
/// never decreasing while they go on.
/// </summary>
internal sealed class StripedCounter
{
    private readonly Cell[] _cells;
    private readonly int _mask;

    public StripedCounter()
    {
        int cells = (int)Math.Min(64, System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Math.Max(2, Environment.ProcessorCount * 2)));
        _cells = new Cell[cells];
        _mask = cells - 1;
    }

    /// <summary>Adds one.</summary>
    public void Increment() => Interlocked.Increment(ref _cells[Environment.CurrentManagedThreadId & _mask].Value);

    /// <summary>The sum of every cell.</summary>
    public long Read()
    {
        long sum = 0;
        for (int i = 0; i < _cells.Length; i++)
        {
            sum += Volatile.Read(ref _cells[i].Value);
        }

        return sum;
    }

    /// <summary>One cell, alone on its 128 bytes (two cache lines, past the adjacent-line prefetcher).</summary>
    [StructLayout(LayoutKind.Explicit, Size = 128)]
    private struct Cell
    {
        [FieldOffset(0)]
        public long Value;
    }
}
