
namespace Engine.Pipelines;

/// <summary>The counts of every stage of a pipeline at one moment, in the order the stages were added.</summary>
public sealed class PipelineCounts
{
    private readonly IReadOnlyList<PipelineStageCounts> _stages;

    internal PipelineCounts(IReadOnlyList<PipelineStageCounts> stages) => _stages = stages;

    /// <summary>Every stage's counts.</summary>
    public IReadOnlyList<PipelineStageCounts> Stages => _stages;

    /// <summary>Items abandoned by an abort, over all stages.</summary>
    public long Abandoned => _stages.Sum(s => s.Counts.Abandoned);

    /// <summary>Whether every stage's accounting identity holds (see <see cref="StageCounts.IsConserved"/>), and every keyed window step's (see <see cref="WindowCounts.IsConserved"/>).</summary>
    public bool IsConserved => _stages.All(s => s.Counts.IsConserved && (s.Windows?.IsConserved ?? true));

    /// <summary>A stage's counts by name.</summary>
    /// <param name="stage">The stage's name.</param>
    /// <exception cref="KeyNotFoundException">No stage has that name.</exception>
    public StageCounts this[string stage] =>
        _stages.FirstOrDefault(s => s.Stage == stage) is { Stage: not null } found ? found.Counts : throw new KeyNotFoundException($"The pipeline has no stage '{stage}'.");

    /// <summary>
    /// How many outputs a stage forwarded downstream; exact once the stage is done. While items flow,
    /// a transform stage's figure (its processed runs, one output each) trails by the runs its workers
    /// have not yet added to their counts.
    /// </summary>
    /// <param name="stage">The stage's name.</param>
    /// <returns>The count.</returns>
    /// <exception cref="KeyNotFoundException">No stage has that name.</exception>
    public long EmittedBy(string stage) =>
        _stages.FirstOrDefault(s => s.Stage == stage) is { Stage: not null } found ? found.Emitted : throw new KeyNotFoundException($"The pipeline has no stage '{stage}'.");

    /// <summary>A keyed window step's window accounting.</summary>
    /// <param name="stage">The step's name.</param>
    /// <returns>Its window counts.</returns>
    /// <exception cref="KeyNotFoundException">No stage has that name, or it is not a keyed window step.</exception>
    public WindowCounts WindowsOf(string stage) =>
        _stages.FirstOrDefault(s => s.Stage == stage) is { Windows: { } windows } ? windows : throw new KeyNotFoundException($"The pipeline has no keyed window stage '{stage}'.");

    /// <inheritdoc />
    public override string ToString() => string.Join("; ", _stages.Select(s => $"{s.Stage}: {s.Counts} emitted={s.Emitted}"));
}
