using System.Runtime.InteropServices;

namespace Engine;

/// <summary>What a handler may know about the item it runs, besides the item itself.</summary>
[StructLayout(LayoutKind.Auto)]
public readonly struct ItemContext
{
    private readonly TimeProvider _timeProvider;

    internal ItemContext(long entryTimestamp, int attempt, TimeProvider timeProvider)
    {
        EntryTimestamp = entryTimestamp;
        Attempt = attempt;
        _timeProvider = timeProvider;
    }

    /// <summary>
    /// When the item entered its pipeline (or this stage, for a stage used alone), in
    /// <see cref="TimeProvider.GetTimestamp"/> ticks of the stage's clock. It is carried unchanged through
    /// every stage, transform and fan-out; a batch carries its oldest item's.
    /// </summary>
    public long EntryTimestamp { get; }

    /// <summary>Which run of the handler this is for the item: 1 the first time, 2 on the first retry, and so on.</summary>
    public int Attempt { get; }

    /// <summary>How long ago the item entered its pipeline, on the stage's clock: its end-to-end latency so far.</summary>
    public TimeSpan Age => _timeProvider is null ? TimeSpan.Zero : _timeProvider.GetElapsedTime(EntryTimestamp);
}
