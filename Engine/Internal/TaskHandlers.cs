namespace Engine.Internal;

/// <summary>
/// Turns <see cref="Task"/>-returning handlers into the <see cref="ValueTask"/> shape the engine runs.
/// A <see cref="ValueTask"/> wrapping a <see cref="Task"/> allocates nothing; the adapter delegate is
/// made once, when the stage is created. The <see cref="ValueTask"/> overloads take the user's
/// delegate as it is, so they pay nothing for this.
/// </summary>
internal static class TaskHandlers
{
    public static Func<T, CancellationToken, ValueTask> Adapt<T>(Func<T, CancellationToken, Task> handler) =>
        (item, cancellationToken) => new ValueTask(handler(item, cancellationToken));

    public static Func<T, ItemContext, CancellationToken, ValueTask> Adapt<T>(Func<T, ItemContext, CancellationToken, Task> handler) =>
        (item, context, cancellationToken) => new ValueTask(handler(item, context, cancellationToken));

    public static Func<T, CancellationToken, ValueTask<TOut>> AdaptTransform<T, TOut>(Func<T, CancellationToken, Task<TOut>> transform) =>
        (item, cancellationToken) => new ValueTask<TOut>(transform(item, cancellationToken));

    public static Func<T, TEmit, CancellationToken, ValueTask> AdaptEmitter<T, TEmit>(Func<T, TEmit, CancellationToken, Task> handler) =>
        (item, emit, cancellationToken) => new ValueTask(handler(item, emit, cancellationToken));
}
