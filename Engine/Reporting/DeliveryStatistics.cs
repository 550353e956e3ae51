namespace Engine.Reporting;

/// <summary>What a buffering reporter has done with the points it was given, cumulative.</summary>
public sealed record DeliveryStatistics
{
    /// <summary>Points the server accepted.</summary>
    public long Sent { get; init; }

    /// <summary>Points dropped because the buffer was full (the oldest go first).</summary>
    public long Dropped { get; init; }

    /// <summary>Points the server refused as malformed (HTTP 400/422, or too large to split further); not retried.</summary>
    public long Rejected { get; init; }

    /// <summary>Points waiting in the buffer now.</summary>
    public long Buffered { get; init; }

    /// <summary>
    /// Points given up because they were still buffered when the reporter was disposed (the scheduler
    /// disposes its reporters when it stops, after the final flush): they never reached the server.
    /// </summary>
    public long Abandoned { get; init; }

    /// <summary>HTTP requests that failed (network error, timeout or an error status).</summary>
    public long FailedRequests { get; init; }

    /// <summary>Consecutive failed requests now (0 after a success).</summary>
    public int ConsecutiveFailures { get; init; }
}
