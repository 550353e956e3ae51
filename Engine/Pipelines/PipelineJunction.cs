using Engine.Pipelines.Nodes;

namespace Engine.Pipelines;

/// <summary>A declared stage that accepts several upstreams (fan-in) and has an output to continue.</summary>
/// <typeparam name="TIn">The pipeline's input type.</typeparam>
/// <typeparam name="T">The items it accepts.</typeparam>
/// <typeparam name="TOut">The items it produces.</typeparam>
public sealed class PipelineJunction<TIn, T, TOut> : PipelineTarget<T>
{
    internal PipelineJunction(string name, ITarget<T> target, Flow<TIn, TOut> output)
        : base(name, target) => Output = output;

    /// <summary>The stage's output, to continue exactly once.</summary>
    public Flow<TIn, TOut> Output { get; }
}
