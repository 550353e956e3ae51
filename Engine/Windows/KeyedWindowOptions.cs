using Engine.Stages;

namespace Engine.Windows;

/// <summary>
/// Shapes a keyed window step (<c>TumblingWindow</c>, <c>SessionWindow</c>, <c>BatchByKey</c>): the
/// stage it runs on (key, shards, workers, capacity, retry) and how many windows it may hold open.
/// Validated when the pipeline is built; an error names the stage and the option.
/// </summary>
/// <typeparam name="T">The items the step folds.</typeparam>
public sealed class KeyedWindowOptions<T>
{
    internal KeyedWindowOptions(StageOptions<T> stage) => Stage = stage;

    /// <summary>
    /// The stage the step runs on, preset with its name and the pipeline's clock. Its <see cref="StageOptions{T}.KeySelector"/>
    /// is the window key: every key's windows live on the shard that owns the key. Without one, every
    /// item shares one window.
    /// </summary>
    public StageOptions<T> Stage { get; }

    /// <summary>
    /// The most windows the step holds open, split evenly over the stage's keyed shards (so at least
    /// <see cref="StageOptions{T}.Shards"/>); items without a key share one more. The default value is 100,000.
    /// </summary>
    public int MaxOpenWindows { get; set; } = WindowConstants.DefaultMaxOpenWindows;

    /// <summary>What happens when a shard holds its share and an item needs a new window. The default value is <see cref="WindowFullMode.Backpressure"/>.</summary>
    public WindowFullMode FullMode { get; set; } = WindowFullMode.Backpressure;
}
