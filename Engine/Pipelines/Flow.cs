using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Engine.Internal;
using Engine.Pipelines.Nodes;
using Engine.Stages;

namespace Engine.Pipelines;

/// <summary>
/// The output of a pipeline step, of type <typeparamref name="T"/>, in a pipeline whose input is
/// <typeparamref name="TIn"/>: continue it exactly once, with a stage, a batch, a sink, a link into a
/// declared target, or a broadcast to several branches. Types line up at compile time: a step's
/// handler takes what the previous step produces.
/// </summary>
/// <typeparam name="TIn">The pipeline's input type.</typeparam>
/// <typeparam name="T">The items this step produces.</typeparam>
public abstract partial class Flow<TIn, T>
{
    private readonly Outlet<T> _outlet;
    private readonly string _from;
    private bool _continued;

    private protected Flow(PipelineBuilder<TIn>? builder, Outlet<T> outlet, string from)
    {
        Builder = builder ?? (PipelineBuilder<TIn>)(object)this;
        _outlet = outlet;
        _from = from;
    }

    /// <summary>The builder this flow belongs to.</summary>
    private protected PipelineBuilder<TIn> Builder { get; }

    /// <summary>
    /// Adds a stage that turns each item into exactly one output.
    /// </summary>
    /// <typeparam name="TOut">The output type.</typeparam>
    /// <param name="name">The stage's name, unique in the pipeline.</param>
    /// <param name="transform">Makes the output; exceptions are retried or dead-lettered as the stage's options say.</param>
    /// <param name="configure">Shapes the stage (key, shards, workers, capacity, dedupe, retry, full mode); the name is the one given here.</param>
    /// <returns>The stage's output, to continue.</returns>
    [OverloadResolutionPriority(1)]
    public Flow<TIn, TOut> Then<TOut>(string name, Func<T, CancellationToken, ValueTask<TOut>> transform, Action<StageOptions<T>>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(transform);
        var node = new StageNode<T, TOut>(name, Builder.Runtime, Builder.OptionsFor(name, configure), transform);
        Continue(node);
        return new OutletFlow<TIn, TOut>(Builder, node.Outlet, name);
    }

    /// <summary>
    /// Adds a stage that turns each item into exactly one output, with a <see cref="Task{TResult}"/>-returning
    /// transform (a method group such as <c>EnrichAsync</c> can be passed as it is). Otherwise as the
    /// <see cref="ValueTask{TResult}"/> overload, which a lambda that fits both takes.
    /// </summary>
    /// <typeparam name="TOut">The output type.</typeparam>
    /// <param name="name">The stage's name, unique in the pipeline.</param>
    /// <param name="transform">Makes the output; exceptions are retried or dead-lettered as the stage's options say.</param>
    /// <param name="configure">Shapes the stage; the name is the one given here.</param>
    /// <returns>The stage's output, to continue.</returns>
    public Flow<TIn, TOut> Then<TOut>(string name, Func<T, CancellationToken, Task<TOut>> transform, Action<StageOptions<T>>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(transform);
        return Then(name, TaskHandlers.AdaptTransform(transform), configure);
    }

    /// <summary>
    /// Adds a stage whose handler emits zero, one or many outputs per item (filter, transform,
    /// transform-many in one shape). Outputs are forwarded after the handler returns successfully.
    /// </summary>
    /// <typeparam name="TOut">The output type.</typeparam>
    /// <param name="name">The stage's name, unique in the pipeline.</param>
    /// <param name="handler">Handles one item, calling its <see cref="Emit{T}"/> argument for each output.</param>
    /// <param name="configure">Shapes the stage; the name is the one given here.</param>
    /// <returns>The stage's output, to continue.</returns>
    [OverloadResolutionPriority(1)]
    public Flow<TIn, TOut> Then<TOut>(string name, Func<T, Emit<TOut>, CancellationToken, ValueTask> handler, Action<StageOptions<T>>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(handler);
        var node = new StageNode<T, TOut>(name, Builder.Runtime, Builder.OptionsFor(name, configure), handler);
        Continue(node);
        return new OutletFlow<TIn, TOut>(Builder, node.Outlet, name);
    }

    /// <summary>
    /// Adds a stage whose <see cref="Task"/>-returning handler emits zero, one or many outputs per item.
    /// Otherwise as the <see cref="ValueTask"/> overload, which a lambda that fits both takes.
    /// </summary>
    /// <typeparam name="TOut">The output type.</typeparam>
    /// <param name="name">The stage's name, unique in the pipeline.</param>
    /// <param name="handler">Handles one item, calling its <see cref="Emit{T}"/> argument for each output.</param>
    /// <param name="configure">Shapes the stage; the name is the one given here.</param>
    /// <returns>The stage's output, to continue.</returns>
    public Flow<TIn, TOut> Then<TOut>(string name, Func<T, Emit<TOut>, CancellationToken, Task> handler, Action<StageOptions<T>>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return Then(name, TaskHandlers.AdaptEmitter(handler), configure);
    }

    /// <summary>
    /// Groups items into batches of up to <paramref name="size"/>; with a <paramref name="window"/>, a
    /// partial batch is sent once its first item has waited that long (on the pipeline's clock). The
    /// rest is flushed when the stage completes. A batch carries its oldest item's entry timestamp.
    /// </summary>
    /// <param name="name">The stage's name, unique in the pipeline.</param>
    /// <param name="size">The most items in a batch; at least 1.</param>
    /// <param name="window">How long a partial batch may wait; null waits until it is full or the stage completes.</param>
    /// <param name="capacity">Items the stage buffers before writers wait; at least 1. The default value is 1024.</param>
    /// <returns>The batches, to continue.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="size"/> or <paramref name="capacity"/> is below 1, or <paramref name="window"/> is not positive.</exception>
    public Flow<TIn, IReadOnlyList<T>> Batch(string name, int size, TimeSpan? window = null, int capacity = 1024)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        if (window is { } w && w <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(window), w, $"Batch '{name}': the window must be positive (or null for none).");
        }

        var node = new BatchNode<T>(name, Builder.Runtime, size, window, capacity);
        Continue(node);
        return new OutletFlow<TIn, IReadOnlyList<T>>(Builder, node.Outlet, name);
    }

    /// <summary>Ends this branch with a stage that consumes items.</summary>
    /// <param name="name">The stage's name, unique in the pipeline.</param>
    /// <param name="handler">Consumes one item.</param>
    /// <param name="configure">Shapes the stage; the name is the one given here.</param>
    /// <returns>The pipeline's builder, to build it or declare more.</returns>
    [OverloadResolutionPriority(1)]
    public PipelineBuilder<TIn> Sink(string name, Func<T, CancellationToken, ValueTask> handler, Action<StageOptions<T>>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return Sink(name, (item, _, ct) => handler(item, ct), configure);
    }

    /// <summary>Ends this branch with a stage that consumes items with a <see cref="Task"/>-returning handler (a method group such as <c>SaveAsync</c>).</summary>
    /// <param name="name">The stage's name, unique in the pipeline.</param>
    /// <param name="handler">Consumes one item.</param>
    /// <param name="configure">Shapes the stage; the name is the one given here.</param>
    /// <returns>The pipeline's builder, to build it or declare more.</returns>
    public PipelineBuilder<TIn> Sink(string name, Func<T, CancellationToken, Task> handler, Action<StageOptions<T>>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return Sink(name, TaskHandlers.Adapt(handler), configure);
    }

    /// <summary>
    /// Ends this branch with a stage that consumes items and sees each item's <see cref="ItemContext"/>
    /// (its <see cref="ItemContext.Age"/> is the end-to-end latency).
    /// </summary>
    /// <param name="name">The stage's name, unique in the pipeline.</param>
    /// <param name="handler">Consumes one item.</param>
    /// <param name="configure">Shapes the stage; the name is the one given here.</param>
    /// <returns>The pipeline's builder.</returns>
    [OverloadResolutionPriority(1)]
    public PipelineBuilder<TIn> Sink(string name, Func<T, ItemContext, CancellationToken, ValueTask> handler, Action<StageOptions<T>>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(handler);
        Continue(new StageNode<T, T>(name, Builder.Runtime, Builder.OptionsFor(name, configure), handler));
        return Builder;
    }

    /// <summary>
    /// Ends this branch with a stage that consumes items with a <see cref="Task"/>-returning handler
    /// that sees each item's <see cref="ItemContext"/>.
    /// </summary>
    /// <param name="name">The stage's name, unique in the pipeline.</param>
    /// <param name="handler">Consumes one item.</param>
    /// <param name="configure">Shapes the stage; the name is the one given here.</param>
    /// <returns>The pipeline's builder.</returns>
    public PipelineBuilder<TIn> Sink(string name, Func<T, ItemContext, CancellationToken, Task> handler, Action<StageOptions<T>>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return Sink(name, TaskHandlers.Adapt(handler), configure);
    }

    /// <summary>
    /// Ends this branch by writing items into <paramref name="writer"/> (read them with the channel's
    /// reader, or <c>ReadAllAsync()</c> as an <see cref="IAsyncEnumerable{T}"/>). A full channel
    /// back-pressures the pipeline.
    /// </summary>
    /// <param name="name">The sink's name, unique in the pipeline.</param>
    /// <param name="writer">Where items go.</param>
    /// <param name="completeWriter">Whether to complete the writer when the pipeline has completed (with an error after an abort). The default value is true.</param>
    /// <returns>The pipeline's builder.</returns>
    public PipelineBuilder<TIn> SinkTo(string name, ChannelWriter<T> writer, bool completeWriter = true)
    {
        ArgumentNullException.ThrowIfNull(writer);
        Continue(new ChannelSinkNode<T>(name, Builder.Runtime, writer, completeWriter));
        return Builder;
    }

    /// <summary>Ends this branch by linking it into a declared target (fan-in: the target completes only after all its upstreams have).</summary>
    /// <param name="target">A target from <see cref="PipelineBuilder{TIn}.SinkTarget{T}(string, Func{T, CancellationToken, ValueTask}, Action{StageOptions{T}}?)"/> or <see cref="PipelineBuilder{TIn}.StageTarget{T, TOut}(string, Func{T, Emit{TOut}, CancellationToken, ValueTask}, Action{StageOptions{T}}?)"/>.</param>
    /// <returns>The pipeline's builder.</returns>
    public PipelineBuilder<TIn> To(PipelineTarget<T> target)
    {
        ArgumentNullException.ThrowIfNull(target);
        MarkContinued();
        _outlet.Link(target.Target);
        return Builder;
    }

    /// <summary>
    /// Sends every item to each of several branches (lossless: a slow branch back-pressures the others
    /// rather than dropping anything). Each branch is continued by its action.
    /// </summary>
    /// <param name="branches">At least two actions, each continuing one branch.</param>
    /// <returns>The pipeline's builder.</returns>
    /// <exception cref="ArgumentException">Fewer than two branches.</exception>
    public PipelineBuilder<TIn> Broadcast(params Action<Flow<TIn, T>>[] branches)
    {
        ArgumentNullException.ThrowIfNull(branches);
        if (branches.Length < 2)
        {
            throw new ArgumentException($"Broadcast after '{_from}' needs at least two branches.", nameof(branches));
        }

        MarkContinued();
        foreach (Action<Flow<TIn, T>> branch in branches)
        {
            ArgumentNullException.ThrowIfNull(branch, nameof(branches));
            branch(new OutletFlow<TIn, T>(Builder, _outlet, _from));
        }

        return Builder;
    }

    private void Continue<TNode>(TNode node)
        where TNode : Node, ITarget<T>
    {
        MarkContinued();
        Builder.Runtime.Add(node);
        _outlet.Link(node);
    }

    private void MarkContinued()
    {
        if (_continued)
        {
            throw new InvalidOperationException($"The output of '{_from}' is already continued; use Broadcast to send it to several branches.");
        }

        _continued = true;
    }
}
