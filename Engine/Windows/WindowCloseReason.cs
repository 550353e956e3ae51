namespace Engine.Windows;

/// <summary>Why a keyed window was closed and emitted.</summary>
public enum WindowCloseReason
{
    /// <summary>Its time ran out: a tumbling window's end, a session's gap or maximum length, a per-key batch's wait.</summary>
    Elapsed,

    /// <summary>A per-key batch reached its size.</summary>
    Full,

    /// <summary>Closed before its time to make room for another key's window (<see cref="WindowFullMode.FlushOldest"/>).</summary>
    FlushedEarly,

    /// <summary>Flushed because the step completed (every upstream completed and every item was folded).</summary>
    Completion,
}
