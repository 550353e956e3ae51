using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using Engine.Internal;
using Engine.Pipelines.Nodes;
using Engine.Stages;

namespace Engine.Pipelines;

/// <summary>
/// Builds a pipeline whose input is <typeparamref name="TIn"/>: continue it as a <see cref="Flow{TIn, T}"/>
/// (it is the flow of the pipeline's input), declare fan-in targets, then <see cref="Build"/>.
/// </summary>
/// <typeparam name="TIn">The pipeline's input type.</typeparam>
public sealed class PipelineBuilder<TIn> : Flow<TIn, TIn>
{
    private bool _built;

    internal PipelineBuilder(PipelineRuntime runtime, SourceNode<TIn> source)
        : base(null, source.Outlet, "(source)")
    {
        Runtime = runtime;
        Source = source;
        runtime.Add(source);
    }

    internal PipelineRuntime Runtime { get; }

    internal SourceNode<TIn> Source { get; }

    /// <summary>Declares a sink that several branches can link into with <see cref="Flow{TIn, T}.To"/>.</summary>
    /// <typeparam name="T">The items it consumes.</typeparam>
    /// <param name="name">The stage's name, unique in the pipeline.</param>
    /// <param name="handler">Consumes one item.</param>
    /// <param name="configure">Shapes the stage; the name is the one given here.</param>
    /// <returns>The target, to link into.</returns>
    [OverloadResolutionPriority(1)]
    public PipelineTarget<T> SinkTarget<T>(string name, Func<T, CancellationToken, ValueTask> handler, Action<StageOptions<T>>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(handler);
        var node = new StageNode<T, T>(name, Runtime, OptionsFor(name, configure), (T item, ItemContext _, CancellationToken ct) => handler(item, ct));
        Runtime.Add(node);
        return new PipelineTarget<T>(name, node);
    }

    /// <summary>Declares a sink, with a <see cref="Task"/>-returning handler, that several branches can link into with <see cref="Flow{TIn, T}.To"/>.</summary>
    /// <typeparam name="T">The items it consumes.</typeparam>
    /// <param name="name">The stage's name, unique in the pipeline.</param>
    /// <param name="handler">Consumes one item.</param>
    /// <param name="configure">Shapes the stage; the name is the one given here.</param>
    /// <returns>The target, to link into.</returns>
    public PipelineTarget<T> SinkTarget<T>(string name, Func<T, CancellationToken, Task> handler, Action<StageOptions<T>>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return SinkTarget(name, TaskHandlers.Adapt(handler), configure);
    }

    /// <summary>Declares a stage that several branches can link into, with an output to continue.</summary>
    /// <typeparam name="T">The items it accepts.</typeparam>
    /// <typeparam name="TOut">The items it produces.</typeparam>
    /// <param name="name">The stage's name, unique in the pipeline.</param>
    /// <param name="handler">Handles one item, emitting zero or more outputs.</param>
    /// <param name="configure">Shapes the stage; the name is the one given here.</param>
    /// <returns>The junction: a target to link into, and its output.</returns>
    [OverloadResolutionPriority(1)]
    public PipelineJunction<TIn, T, TOut> StageTarget<T, TOut>(string name, Func<T, Emit<TOut>, CancellationToken, ValueTask> handler, Action<StageOptions<T>>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(handler);
        var node = new StageNode<T, TOut>(name, Runtime, OptionsFor(name, configure), handler);
        Runtime.Add(node);
        return new PipelineJunction<TIn, T, TOut>(name, node, new OutletFlow<TIn, TOut>(this, node.Outlet, name));
    }

    /// <summary>Declares a stage, with a <see cref="Task"/>-returning handler, that several branches can link into, with an output to continue.</summary>
    /// <typeparam name="T">The items it accepts.</typeparam>
    /// <typeparam name="TOut">The items it produces.</typeparam>
    /// <param name="name">The stage's name, unique in the pipeline.</param>
    /// <param name="handler">Handles one item, emitting zero or more outputs.</param>
    /// <param name="configure">Shapes the stage; the name is the one given here.</param>
    /// <returns>The junction: a target to link into, and its output.</returns>
    public PipelineJunction<TIn, T, TOut> StageTarget<T, TOut>(string name, Func<T, Emit<TOut>, CancellationToken, Task> handler, Action<StageOptions<T>>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return StageTarget(name, TaskHandlers.AdaptEmitter(handler), configure);
    }

    /// <summary>
    /// Validates the graph and starts every stage. Rejected, with a message naming the stages: duplicate
    /// stage names, a branch that does not end in a sink, a declared target nothing links into, a cycle,
    /// and any stage option that <see cref="Stage.Create{T}(StageOptions{T}, Func{T, CancellationToken, ValueTask})"/> would reject.
    /// </summary>
    /// <returns>The running pipeline.</returns>
    /// <exception cref="InvalidOperationException">The graph is invalid, or the builder was already built.</exception>
    /// <exception cref="ArgumentException">A stage's options are invalid.</exception>
    public Pipeline<TIn> Build()
    {
        if (_built)
        {
            throw new InvalidOperationException($"Pipeline '{Runtime.Name}' was already built.");
        }

        Validate();
        _built = true;
        Runtime.Start();
        return new Pipeline<TIn>(Runtime, Source);
    }

    /// <summary>Stage options preset with the name and the pipeline's clock, then shaped by the user.</summary>
    internal StageOptions<T> OptionsFor<T>(string name, Action<StageOptions<T>>? configure)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        var options = new StageOptions<T> { Name = name, TimeProvider = Runtime.TimeProvider, Metrics = Runtime.MetricsEnabled, MeterFactory = Runtime.MeterFactory };
        configure?.Invoke(options);
        options.Name = name;
        options.PipelineName = Runtime.Name;
        return options;
    }

    private void Validate()
    {
        IReadOnlyList<Node> nodes = Runtime.Nodes;
        var problems = new StringBuilder();
        foreach (IGrouping<string, Node> duplicate in nodes.GroupBy(n => n.Name, StringComparer.Ordinal).Where(g => g.Count() > 1))
        {
            problems.Append(CultureInfo.InvariantCulture, $" Stage name '{duplicate.Key}' is used {duplicate.Count()} times.");
        }

        if (Source.Downstream.Count == 0)
        {
            problems.Append(" The pipeline has no stages: continue its builder with Then, Batch or Sink.");
        }

        foreach (Node node in nodes.Where(n => n is not ISourceNode))
        {
            if (node.Upstream.Count == 0)
            {
                problems.Append(CultureInfo.InvariantCulture, $" Stage '{node.Name}' is declared but nothing links into it.");
            }

            if (!node.IsSink && node.Downstream.Count == 0)
            {
                problems.Append(CultureInfo.InvariantCulture, $" The branch ending at stage '{node.Name}' has no sink.");
            }
        }

        if (FindCycle(nodes) is { } cycle)
        {
            problems.Append(CultureInfo.InvariantCulture, $" The stages form a cycle: {string.Join(" -> ", cycle.Select(n => n.Name))}.");
        }

        if (problems.Length > 0)
        {
            throw new InvalidOperationException($"Pipeline '{Runtime.Name}' is invalid:{problems}");
        }
    }

    private static List<Node>? FindCycle(IReadOnlyList<Node> nodes)
    {
        var state = new Dictionary<Node, int>(ReferenceEqualityComparer.Instance);
        var path = new List<Node>();
        foreach (Node node in nodes)
        {
            if (Visit(node, state, path) is { } cycle)
            {
                return cycle;
            }
        }

        return null;
    }

    /// <summary>Depth-first search; 1 = on the current path, 2 = done. Returns the cycle's nodes, first repeated last.</summary>
    private static List<Node>? Visit(Node node, Dictionary<Node, int> state, List<Node> path)
    {
        state.TryGetValue(node, out int seen);
        if (seen == 2)
        {
            return null;
        }

        if (seen == 1)
        {
            int start = path.IndexOf(node);
            return [.. path.Skip(start), node];
        }

        state[node] = 1;
        path.Add(node);
        foreach (Node next in node.Downstream)
        {
            if (Visit(next, state, path) is { } cycle)
            {
                return cycle;
            }
        }

        path.RemoveAt(path.Count - 1);
        state[node] = 2;
        return null;
    }
}
