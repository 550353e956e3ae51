using Engine.Queues;

namespace Engine.Tests.Support;

/// <summary>The shard queues a suite runs on, as a public test parameter (<see cref="ShardQueue"/> is internal).</summary>
public enum QueueKind
{
    Runtime,
    Ring,
}

internal static class QueueKinds
{
    public static ShardQueue ToShardQueue(this QueueKind kind) => kind == QueueKind.Ring ? ShardQueue.Ring : ShardQueue.Runtime;
}
