using Engine.Pipelines.Nodes;

namespace Engine.Pipelines;

/// <summary>
/// A declared pipeline stage that flows link into with <see cref="Flow{TIn, T}.To"/>, so several
/// branches can merge into it (fan-in). It completes only after every upstream has completed.
/// </summary>
/// <typeparam name="T">The items it accepts.</typeparam>
public class PipelineTarget<T>
{
    internal PipelineTarget(string name, ITarget<T> target)
    {
        Name = name;
        Target = target;
    }

    /// <summary>The stage's name.</summary>
    public string Name { get; }

    internal ITarget<T> Target { get; }
}
