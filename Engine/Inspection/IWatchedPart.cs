namespace Engine.Inspection;

/// <summary>A stage, batch stage or loop built on an <see cref="IWatchingClock"/>, which the clock's harness can inspect.</summary>
internal interface IWatchedPart
{
    /// <summary>The pipeline the part belongs to; null for one used alone.</summary>
    string? Pipeline { get; }

    /// <summary>The part's name.</summary>
    string Name { get; }

    /// <summary>Completes when the part has stopped (completed, aborted or faulted).</summary>
    Task Completion { get; }

    /// <summary>
    /// Adds what the part holds now to <paramref name="into"/>: each thing that can still happen
    /// without the clock moving (<see cref="PartState.Busy"/>), and each thing that waits for the clock
    /// (a retry's backoff, a batch window, a loop's next run). Safe to call from any thread at any
    /// time; a part that is busy may be read in the middle of a change, so a caller that wants "idle"
    /// reads until two reads in a row find nothing busy.
    /// </summary>
    void Inspect(List<PartState> into);

    /// <summary>The part's counts now (for a loop: default).</summary>
    StageCounts GetCounts();
}
