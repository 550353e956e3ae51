using Akka;
using Akka.Streams.Dsl;

namespace Engine.Benchmarks;

/// <summary>
/// The Akka.Streams shape of one keyed, sharded step: GroupBy on the shard, the handler inside each
/// substream behind an async boundary (so each shard runs in its own actor and one key is always
/// handled by one actor, in order), then the substreams merged back into one stream.
/// </summary>
internal static class AkkaShards
{
    /// <summary>Runs <paramref name="handler"/> on each item in the substream of its shard.</summary>
    /// <typeparam name="TIn">The items going in.</typeparam>
    /// <typeparam name="TOut">The items coming out.</typeparam>
    /// <param name="source">The stream to shard.</param>
    /// <param name="shards">How many substreams (shards) there are.</param>
    /// <param name="shardOf">The shard of an item, from 0 to <paramref name="shards"/> - 1.</param>
    /// <param name="handler">The step's work on one item.</param>
    /// <returns>The merged outputs: in order per shard, interleaved across shards.</returns>
    public static Source<TOut, NotUsed> ViaShards<TIn, TOut>(this Source<TIn, NotUsed> source, int shards, Func<TIn, int> shardOf, Func<TIn, TOut> handler)
    {
        // A SubFlow has no Async() of its own; a flow with an async boundary around the handler, put
        // into each substream with Via, is how a substream gets its own actor. Via and MergeSubstreams
        // are declared to return the IFlow interface, hence the casts back to the concrete types.
        var substreams = (SubFlow<TOut, NotUsed, IRunnableGraph<NotUsed>>)source
            .GroupBy(shards, shardOf)
            .Via(Flow.Create<TIn>().Select(handler).Async());
        return (Source<TOut, NotUsed>)substreams.MergeSubstreams();
    }
}
