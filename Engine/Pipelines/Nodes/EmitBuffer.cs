namespace Engine.Pipelines.Nodes;

/// <summary>Collects one handler run's outputs. Reused across runs, with its <see cref="Emit"/> delegate made once.</summary>
internal sealed class EmitBuffer<T>
{
    private readonly List<T> _items = [];

    public EmitBuffer() => Emit = _items.Add;

    /// <summary>The delegate handed to the handler.</summary>
    public Emit<T> Emit { get; }

    public int Count => _items.Count;

    public T this[int index] => _items[index];

    public void Clear() => _items.Clear();
}
