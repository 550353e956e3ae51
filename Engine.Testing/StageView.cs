using Engine.Dedupe;
using Engine.Inspection;
using Engine.Stages;

namespace Engine.Testing;

/// <summary>
/// What one stage built on the harness's clock gave up, as its callbacks reported it (in the order of
/// the calls), and its counts. The stage's own callbacks still run. Get one from <see cref="EngineHarness.View{T}"/>.
/// </summary>
/// <typeparam name="T">The stage's item type.</typeparam>
public sealed class StageView<T>
{
    private readonly Stage<T> _stage;
    private readonly RunWatch<T> _watch;

    internal StageView(Stage<T> stage, RunWatch<T> watch, string? pipeline)
    {
        _stage = stage;
        _watch = watch;
        Pipeline = pipeline;
    }

    /// <summary>The stage's name.</summary>
    public string Name => _stage.Name;

    /// <summary>The stage's pipeline, or null for a stage used alone.</summary>
    public string? Pipeline { get; }

    /// <summary>Items dead-lettered so far, with the last exception and the attempts (a copy).</summary>
    public IReadOnlyList<StageItem<T, ItemFailure>> DeadLetters => [.. _watch.DeadLetters.Select(d => new StageItem<T, ItemFailure>(d.Item, d.Failure))];

    /// <summary>Items dropped by the stage's full mode so far, with the reason (a copy).</summary>
    public IReadOnlyList<StageItem<T, DropReason>> Drops => [.. _watch.Drops.Select(d => new StageItem<T, DropReason>(d.Item, d.Reason))];

    /// <summary>Items superseded by dedupe so far, with the reason (a copy).</summary>
    public IReadOnlyList<StageItem<T, SupersedeReason>> Superseded => [.. _watch.Superseded.Select(s => new StageItem<T, SupersedeReason>(s.Item, s.Reason))];

    /// <summary>The stage's counts now.</summary>
    public StageCounts Counts => _stage.GetCounts();
}
