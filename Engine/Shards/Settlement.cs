namespace Engine.Shards;

/// <summary>What became of an item after a handler run: the outcome a run's activity is tagged with.</summary>
internal enum Settlement
{
    /// <summary>The handler succeeded.</summary>
    Processed = 0,

    /// <summary>It failed transiently and waits for a retry.</summary>
    Retrying = 1,

    /// <summary>It failed for good.</summary>
    DeadLettered = 2,

    /// <summary>The stage aborted while it ran.</summary>
    Abandoned = 3,
}
