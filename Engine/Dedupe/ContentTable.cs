using Engine.Routing;

namespace Engine.Dedupe;

/// <summary>
/// The content hash of the last successfully processed item per dedupe key, bounded by least-recently
/// used eviction. One per shard, touched only under that shard's lock. Nodes are reused once the
/// table is full, so a full table allocates nothing.
/// </summary>
internal sealed class ContentTable
{
    private readonly Dictionary<ItemKey, LinkedListNode<(ItemKey Key, ulong Hash)>> _index = [];

    /// <summary>Most recently used first.</summary>
    private readonly LinkedList<(ItemKey Key, ulong Hash)> _order = new();

    private readonly int _capacity;

    public ContentTable(int capacity) => _capacity = capacity;

    /// <summary>Keys remembered now.</summary>
    public int Count => _index.Count;

    /// <summary>Keys forgotten to stay within the capacity, since the table was made.</summary>
    public long Evictions { get; private set; }

    /// <summary>Whether <paramref name="key"/>'s remembered hash is <paramref name="hash"/>; a hit counts as a use.</summary>
    public bool Matches(in ItemKey key, ulong hash)
    {
        if (!_index.TryGetValue(key, out LinkedListNode<(ItemKey Key, ulong Hash)>? node) || node.Value.Hash != hash)
        {
            return false;
        }

        _order.Remove(node);
        _order.AddFirst(node);
        return true;
    }

    /// <summary>Remembers <paramref name="hash"/> as <paramref name="key"/>'s last processed content.</summary>
    public void Set(in ItemKey key, ulong hash)
    {
        if (_index.TryGetValue(key, out LinkedListNode<(ItemKey Key, ulong Hash)>? node))
        {
            node.Value = (key, hash);
            _order.Remove(node);
            _order.AddFirst(node);
            return;
        }

        if (_index.Count >= _capacity)
        {
            node = _order.Last!;
            _order.RemoveLast();
            _index.Remove(node.Value.Key);
            Evictions++;
            node.Value = (key, hash);
        }
        else
        {
            node = new LinkedListNode<(ItemKey Key, ulong Hash)>((key, hash));
        }

        _order.AddFirst(node);
        _index.Add(key, node);
    }

    /// <summary>Forgets <paramref name="key"/> (a tombstone was processed, or the key's item was dead-lettered).</summary>
    public void Remove(in ItemKey key)
    {
        if (_index.Remove(key, out LinkedListNode<(ItemKey Key, ulong Hash)>? node))
        {
            _order.Remove(node);
        }
    }
}
