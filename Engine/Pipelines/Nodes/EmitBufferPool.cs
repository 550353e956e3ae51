namespace Engine.Pipelines.Nodes;

/// <summary>
/// A small lock-free pool of <see cref="EmitBuffer{T}"/>, one slot per worker of the stage, so
/// emitting allocates nothing once every worker has run once.
/// </summary>
internal sealed class EmitBufferPool<T>
{
    private readonly EmitBuffer<T>?[] _slots;

    public EmitBufferPool(int size) => _slots = new EmitBuffer<T>?[Math.Max(1, size)];

    public EmitBuffer<T> Rent()
    {
        for (int i = 0; i < _slots.Length; i++)
        {
            EmitBuffer<T>? buffer = Interlocked.Exchange(ref _slots[i], null);
            if (buffer is not null)
            {
                return buffer;
            }
        }

        return new EmitBuffer<T>();
    }

    public void Return(EmitBuffer<T> buffer)
    {
        buffer.Clear();
        for (int i = 0; i < _slots.Length; i++)
        {
            if (Interlocked.CompareExchange(ref _slots[i], buffer, null) is null)
            {
                return;
            }
        }
    }
}
