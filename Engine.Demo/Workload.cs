namespace Engine.Demo;

/// <summary>
/// Generates the demo's updates: a few hot entities and a long tail, repeated identical updates,
/// deletions, and some messages without a key. Not thread-safe: one writer uses it (the resync loop
/// takes a lock).
/// </summary>
internal sealed class Workload
{
    private static readonly string[] Kinds = ["deployment", "pod", "node"];
    private readonly Random _random;
    private readonly int _entities;
    private readonly ulong[] _content;
    private readonly Lock _gate = new();
    private int _version;

    public Workload(Random random, int entities)
    {
        _random = random;
        _entities = entities;
        _content = new ulong[entities];
    }

    public StateUpdate Next()
    {
        lock (_gate)
        {
            _version++;
            if (_random.NextDouble() < 0.03)
            {
                return new StateUpdate(null, "event", "ns-events", _version, (ulong)_version, false);
            }

            // Half of the updates go to the 20 hottest entities.
            int entity = _random.NextDouble() < 0.5 ? _random.Next(Math.Min(20, _entities)) : _random.Next(_entities);
            bool deleted = _random.NextDouble() < 0.02;
            if (!deleted && _random.NextDouble() > 0.2)
            {
                // Four updates in five change the state; the rest repeat it.
                _content[entity] = (ulong)_random.NextInt64();
            }

            return Make(entity, deleted);
        }
    }

    /// <summary>A sample of entities to re-send unchanged (what a periodic resync does).</summary>
    public IReadOnlyList<StateUpdate> Resync(int count)
    {
        lock (_gate)
        {
            var updates = new List<StateUpdate>(count);
            for (int i = 0; i < count; i++)
            {
                _version++;
                updates.Add(Make(_random.Next(_entities), deleted: false));
            }

            return updates;
        }
    }

    private StateUpdate Make(int entity, bool deleted) =>
        new($"{Kinds[entity % 3]}/{entity}", Kinds[entity % 3], "ns-" + (entity % 16), _version, _content[entity], deleted);
}
