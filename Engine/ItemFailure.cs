namespace Engine;

/// <summary>Why an item was dead-lettered: the last exception and how many times the handler ran.</summary>
/// <param name="Stage">The stage's name.</param>
/// <param name="Shard">The shard that ran the item (the unkeyed shard is numbered <c>Shards</c>).</param>
/// <param name="Exception">The exception of the last attempt.</param>
/// <param name="Attempts">How many times the handler ran for this item (1 when it was not retried).</param>
/// <param name="Transient">Whether the last exception was judged transient (then attempts ran out).</param>
public readonly record struct ItemFailure(string Stage, int Shard, Exception Exception, int Attempts, bool Transient);
