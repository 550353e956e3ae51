namespace Engine;

/// <summary>
/// The window accounting of a keyed window step, or of one of its shards, at one moment. Every folded
/// item (a successful handler run: the stage counts it processed) is in exactly one window, which is
/// open, closed and waiting to be forwarded, forwarded (emitted), or abandoned by an abort:
/// <c>Folded == ItemsEmitted + AbandonedItems + OpenItems + ClosingItems</c> (<see cref="IsConserved"/>).
/// Once the step has completed, <c>OpenItems</c> and <c>ClosingItems</c> are 0. Counters are read one
/// after the other while windows move, so a snapshot of a running step may be off by those in motion.
/// </summary>
public readonly record struct WindowCounts
{
    /// <summary>Items folded into a window (the stage's processed items).</summary>
    public long Folded { get; init; }

    /// <summary>Windows open now.</summary>
    public long Open { get; init; }

    /// <summary>Items in the windows open now.</summary>
    public long OpenItems { get; init; }

    /// <summary>The most windows open at once (summed over shards: the sum of each shard's peak).</summary>
    public long PeakOpen { get; init; }

    /// <summary>Windows closed and not forwarded yet.</summary>
    public long Closing { get; init; }

    /// <summary>Items in the windows closed and not forwarded yet.</summary>
    public long ClosingItems { get; init; }

    /// <summary>Windows forwarded downstream.</summary>
    public long Emitted { get; init; }

    /// <summary>Items in the windows forwarded downstream.</summary>
    public long ItemsEmitted { get; init; }

    /// <summary>Windows closed before their time to make room (<see cref="Windows.WindowFullMode.FlushOldest"/>).</summary>
    public long EarlyFlushes { get; init; }

    /// <summary>Windows flushed because the step completed.</summary>
    public long CompletionFlushes { get; init; }

    /// <summary>Windows an abort left open or unforwarded.</summary>
    public long AbandonedWindows { get; init; }

    /// <summary>Items in the windows an abort abandoned (the stage counted them processed when they were folded).</summary>
    public long AbandonedItems { get; init; }

    /// <summary>Whether <c>Folded == ItemsEmitted + AbandonedItems + OpenItems + ClosingItems</c>.</summary>
    public bool IsConserved => Folded == ItemsEmitted + AbandonedItems + OpenItems + ClosingItems;

    /// <summary>Adds two sets of counts (for summing shards).</summary>
    /// <param name="left">Counts.</param>
    /// <param name="right">More counts.</param>
    /// <returns>The sum, figure by figure.</returns>
    public static WindowCounts operator +(WindowCounts left, WindowCounts right) => new()
    {
        Folded = left.Folded + right.Folded,
        Open = left.Open + right.Open,
        OpenItems = left.OpenItems + right.OpenItems,
        PeakOpen = left.PeakOpen + right.PeakOpen,
        Closing = left.Closing + right.Closing,
        ClosingItems = left.ClosingItems + right.ClosingItems,
        Emitted = left.Emitted + right.Emitted,
        ItemsEmitted = left.ItemsEmitted + right.ItemsEmitted,
        EarlyFlushes = left.EarlyFlushes + right.EarlyFlushes,
        CompletionFlushes = left.CompletionFlushes + right.CompletionFlushes,
        AbandonedWindows = left.AbandonedWindows + right.AbandonedWindows,
        AbandonedItems = left.AbandonedItems + right.AbandonedItems,
    };

    /// <summary>Adds two sets of counts (for summing shards).</summary>
    /// <param name="other">More counts.</param>
    /// <returns>The sum, figure by figure.</returns>
    public WindowCounts Add(WindowCounts other) => this + other;
}
