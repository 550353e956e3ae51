namespace Engine;

/// <summary>What a stage does with a write when the item's shard is at its capacity.</summary>
public enum StageFullMode
{
    /// <summary>
    /// <see cref="Stages.Stage{T}.WriteAsync(T, CancellationToken)"/> waits for room (backpressure); <see cref="Stages.Stage{T}.TryWrite"/>
    /// returns false and the item is not accepted. The default.
    /// </summary>
    Wait = 0,

    /// <summary>The oldest waiting item of the shard is dropped to make room; the write succeeds.</summary>
    DropOldest,

    /// <summary>The newest waiting item of the shard is dropped to make room; the write succeeds.</summary>
    DropNewest,

    /// <summary>The item being written is dropped; <see cref="Stages.Stage{T}.TryWrite"/> returns false.</summary>
    DropWrite,

    /// <summary>
    /// The item is refused: <see cref="Stages.Stage{T}.TryWrite"/> returns false and
    /// <see cref="Stages.Stage{T}.WriteAsync(T, CancellationToken)"/> throws <see cref="Stages.StageFullException"/>.
    /// </summary>
    Reject,
}
