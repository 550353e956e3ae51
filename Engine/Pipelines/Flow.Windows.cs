using Engine.Pipelines.Nodes;
using Engine.Stages;
using Engine.Windows;

namespace Engine.Pipelines;

/// <summary>The keyed window steps of a flow (see <c>Engine.Windows</c>).</summary>
public abstract partial class Flow<TIn, T>
{
    /// <summary>
    /// Adds a keyed tumbling window: each key's items are folded into one accumulator per window of
    /// <paramref name="length"/> (aligned to multiples of it since the Unix epoch, on the pipeline's
    /// clock), and each window is emitted once, when it ends. The key is the stage's
    /// <see cref="StageOptions{T}.KeySelector"/> (set it in <paramref name="configure"/>); a key's windows
    /// live on the shard that owns the key. Completion flushes every open window.
    /// </summary>
    /// <typeparam name="TAcc">The accumulator.</typeparam>
    /// <param name="name">The stage's name, unique in the pipeline.</param>
    /// <param name="length">The window's length; positive.</param>
    /// <param name="seed">Makes a new window's accumulator.</param>
    /// <param name="fold">Returns the accumulator with one more item. It runs under its shard's lock (keep it quick); if it throws, the window keeps the accumulator it had and the item fails like any handler run (retried, then dead-lettered).</param>
    /// <param name="configure">Shapes the step: its stage (key, shards, retry) and its bound on open windows.</param>
    /// <returns>The windows, to continue.</returns>
    /// <remarks>Bad options (a length ≤ 0, a null <paramref name="seed"/> or <paramref name="fold"/>, <c>MaxOpenWindows</c> below the shard count) make <c>Build()</c> throw, naming the stage and the option.</remarks>
    public Flow<TIn, KeyedWindow<TAcc>> TumblingWindow<TAcc>(string name, TimeSpan length, Func<TAcc> seed, Func<TAcc, T, TAcc> fold, Action<KeyedWindowOptions<T>>? configure = null) =>
        AddWindow(name, WindowSpec.Tumbling(length), seed, fold, configure);

    /// <summary>
    /// Adds a keyed session window: a key's window opens with its first item and closes once
    /// <paramref name="gap"/> passes without another, or <paramref name="maxLength"/> after it opened,
    /// whichever comes first; each window is emitted once. Otherwise as <see cref="TumblingWindow{TAcc}"/>.
    /// </summary>
    /// <typeparam name="TAcc">The accumulator.</typeparam>
    /// <param name="name">The stage's name, unique in the pipeline.</param>
    /// <param name="gap">The inactivity that closes a session; positive, at most <paramref name="maxLength"/>.</param>
    /// <param name="maxLength">The longest a session stays open; positive.</param>
    /// <param name="seed">Makes a new window's accumulator.</param>
    /// <param name="fold">Returns the accumulator with one more item (see <see cref="TumblingWindow{TAcc}"/>).</param>
    /// <param name="configure">Shapes the step.</param>
    /// <returns>The windows, to continue.</returns>
    public Flow<TIn, KeyedWindow<TAcc>> SessionWindow<TAcc>(string name, TimeSpan gap, TimeSpan maxLength, Func<TAcc> seed, Func<TAcc, T, TAcc> fold, Action<KeyedWindowOptions<T>>? configure = null) =>
        AddWindow(name, WindowSpec.Session(gap, maxLength), seed, fold, configure);

    /// <summary>
    /// Adds a per-key batch: each key's items are gathered into a batch that is emitted once it holds
    /// <paramref name="size"/> items or <paramref name="maxWait"/> has passed since its first item,
    /// whichever comes first (unlike <see cref="Batch"/>, which batches the whole stage). A batch
    /// carries its oldest item's entry timestamp. Otherwise as <see cref="TumblingWindow{TAcc}"/>.
    /// </summary>
    /// <param name="name">The stage's name, unique in the pipeline.</param>
    /// <param name="size">The most items in a batch; at least 1.</param>
    /// <param name="maxWait">How long a partial batch may wait; positive.</param>
    /// <param name="configure">Shapes the step.</param>
    /// <returns>The batches (<see cref="KeyedWindow{TAcc}.Value"/> holds the items in the order they were folded), to continue.</returns>
    public Flow<TIn, KeyedWindow<IReadOnlyList<T>>> BatchByKey(string name, int size, TimeSpan maxWait, Action<KeyedWindowOptions<T>>? configure = null) =>
        AddWindow<IReadOnlyList<T>>(name, WindowSpec.Batch(size, maxWait), () => new List<T>(Math.Clamp(size, 1, 64)), AddToBatch, configure);

    /// <summary>Appends to a per-key batch; the list is the window's own until it is emitted.</summary>
    private static IReadOnlyList<T> AddToBatch(IReadOnlyList<T> batch, T item)
    {
        ((List<T>)batch).Add(item);
        return batch;
    }

    private Flow<TIn, KeyedWindow<TAcc>> AddWindow<TAcc>(string name, WindowSpec spec, Func<TAcc>? seed, Func<TAcc, T, TAcc>? fold, Action<KeyedWindowOptions<T>>? configure)
    {
        var options = new KeyedWindowOptions<T>(Builder.OptionsFor<T>(name, null));
        configure?.Invoke(options);
        options.Stage.Name = name;
        var node = new KeyedWindowNode<T, TAcc>(name, Builder.Runtime, options, spec, seed, fold);
        Continue(node);
        return new OutletFlow<TIn, KeyedWindow<TAcc>>(Builder, node.Outlet, name);
    }
}
