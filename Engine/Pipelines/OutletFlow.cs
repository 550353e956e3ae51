using Engine.Pipelines.Nodes;

namespace Engine.Pipelines;

/// <summary>A flow over a node's outlet.</summary>
internal sealed class OutletFlow<TIn, T> : Flow<TIn, T>
{
    public OutletFlow(PipelineBuilder<TIn> builder, Outlet<T> outlet, string from)
        : base(builder, outlet, from)
    {
    }
}
