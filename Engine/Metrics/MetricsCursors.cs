namespace Engine.Metrics;

/// <summary>
/// One consumer's cursors over any number of metrics sources (stages, limiters), opened when the
/// consumer first meets the source (a reporter opens them when it starts or a source is added, so it
/// sees every depth peak from then on) and closed together. Thread-safe.
/// </summary>
internal sealed class MetricsCursors : IDisposable
{
    private readonly Dictionary<object, (object Cursor, Action<object> Close)> _cursors = new(ReferenceEqualityComparer.Instance);
    private readonly Lock _gate = new();

    /// <summary>The cursor this consumer holds on <paramref name="source"/>, opening it if it has none.</summary>
    public TCursor For<TCursor>(object source, Func<TCursor> open, Action<TCursor> close)
        where TCursor : class
    {
        lock (_gate)
        {
            if (_cursors.TryGetValue(source, out var held))
            {
                return (TCursor)held.Cursor;
            }

            TCursor cursor = open();
            _cursors[source] = (cursor, c => close((TCursor)c));
            return cursor;
        }
    }

    /// <summary>Closes every cursor, so the sources stop tracking this consumer.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            foreach ((object cursor, Action<object> close) in _cursors.Values)
            {
                close(cursor);
            }

            _cursors.Clear();
        }
    }
}
