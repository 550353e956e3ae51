
namespace Engine.Pipelines;

/// <summary>One stage's counts within a pipeline.</summary>
/// <param name="Stage">The stage's name.</param>
/// <param name="Counts">Its item counts.</param>
/// <param name="Emitted">Outputs it forwarded downstream (for a batch stage: batches); each downstream branch receives every one.</param>
public readonly record struct PipelineStageCounts(string Stage, StageCounts Counts, long Emitted)
{
    /// <summary>The window accounting of a keyed window step (<c>TumblingWindow</c>, <c>SessionWindow</c>, <c>BatchByKey</c>); null for every other stage.</summary>
    public WindowCounts? Windows { get; init; }
}
