using System.Threading.Tasks.Dataflow;
using Akka.Streams.Dsl;
using BenchmarkDotNet.Attributes;
using Engine.Pipelines;
using Engine.Routing;
using Engine.Windows;

namespace Engine.Benchmarks;

/// <summary>
/// Per-key batches (a reduce-by-key window): 1,000,000 items over 10,000 keys, each key's items
/// gathered into batches of 20 (or whatever a key holds after an hour, which never comes: every batch
/// fills), each batch handed to one downstream consumer that counts its items. The engine's
/// <c>BatchByKey</c> (4 shards, metrics on) into a sink stage; TPL Dataflow with a hand-built dictionary
/// of accumulators behind one <see cref="ActionBlock{TInput}"/> per shard (the same FNV routing, 4
/// shards) posting full batches to one counting block; Akka.Streams' <c>GroupBy</c> (one substream per
/// key, 10,000 of them) + <c>GroupedWithin</c>, merged into a counting sink. Every contender is checked
/// once, outside the measurement, to have delivered every item in exactly <c>Items / 20</c> batches.
/// </summary>
[MemoryDiagnoser]
public class KeyedWindowBenchmarks
{
    private const int Keys = 10_000;
    private const int Size = 20;
    private const int Shards = 4;
    private const int Capacity = 1024;
    private static readonly TimeSpan Never = TimeSpan.FromHours(1);
    private long _items;
    private long _batches;
    private AkkaStreamsHost? _akka;

    [Params(1_000_000)]
    public int Items { get; set; }

    [GlobalSetup(Target = nameof(Engine))]
    public void CheckEngine() => Check(nameof(Engine), Engine);

    [GlobalSetup(Target = nameof(TplDataflow))]
    public void CheckTplDataflow() => Check(nameof(TplDataflow), TplDataflow);

    [GlobalSetup(Target = nameof(AkkaStreams))]
    public void StartAkka()
    {
        _akka = AkkaStreamsHost.Start("windows");
        Check(nameof(AkkaStreams), AkkaStreams);
    }

    [GlobalCleanup(Target = nameof(AkkaStreams))]
    public void StopAkka() => AkkaStreamsHost.Stop(_akka);

    [Benchmark(Baseline = true)]
    public async Task Engine()
    {
        Reset();
        await using Pipeline<int> pipeline = Pipeline.Create<int>("windows")
            .BatchByKey("batch", Size, Never, o =>
            {
                o.Stage.KeySelector = i => i % Keys;
                o.Stage.Shards = Shards;
                o.Stage.Capacity = Capacity;
            })
            .Sink("count", (batch, _) =>
            {
                Count(batch.Value.Count);
                return default;
            }, o => o.Capacity = Capacity)
            .Build();
        for (int i = 0; i < Items; i++)
        {
            await pipeline.WriteAsync(i);
        }

        await pipeline.CompleteAsync();
    }

    /// <summary>
    /// The hand-built equivalent: a dictionary of accumulators per shard, owned by that shard's block
    /// (so no lock), each full batch posted to the counting block; completion flushes the partial ones.
    /// </summary>
    [Benchmark]
    public async Task TplDataflow()
    {
        Reset();
        var sink = new ActionBlock<List<int>>(batch => Count(batch.Count), new ExecutionDataflowBlockOptions { BoundedCapacity = Capacity });
        var accumulators = new Dictionary<int, List<int>>[Shards];
        var blocks = new ActionBlock<int>[Shards];
        for (int s = 0; s < Shards; s++)
        {
            Dictionary<int, List<int>> open = accumulators[s] = [];
            blocks[s] = new ActionBlock<int>(
                async item =>
                {
                    int key = item % Keys;
                    if (!open.TryGetValue(key, out List<int>? batch))
                    {
                        open[key] = batch = new List<int>(Size);
                    }

                    batch.Add(item);
                    if (batch.Count == Size)
                    {
                        open.Remove(key);
                        await sink.SendAsync(batch);
                    }
                },
                new ExecutionDataflowBlockOptions { BoundedCapacity = Capacity, SingleProducerConstrained = true });
        }

        for (int i = 0; i < Items; i++)
        {
            ActionBlock<int> block = blocks[ShardOf(i)];
            if (!block.Post(i))
            {
                await block.SendAsync(i);
            }
        }

        foreach (ActionBlock<int> block in blocks)
        {
            block.Complete();
        }

        await Task.WhenAll(blocks.Select(b => b.Completion));
        foreach (List<int> partial in accumulators.SelectMany(a => a.Values))
        {
            await sink.SendAsync(partial);
        }

        sink.Complete();
        await sink.Completion;
    }

    /// <summary>GroupBy one substream per key, GroupedWithin(20, an hour) in each, merged into a sink that counts.</summary>
    [Benchmark]
    public Task AkkaStreams()
    {
        Reset();
        var substreams = (SubFlow<IEnumerable<int>, Akka.NotUsed, IRunnableGraph<Akka.NotUsed>>)Source.From(Enumerable.Range(0, Items))
            .GroupBy(Keys, i => i % Keys)
            .GroupedWithin(Size, Never);
        return ((Source<IEnumerable<int>, Akka.NotUsed>)substreams.MergeSubstreams())
            .RunForeach(batch => Count(batch.Count()), _akka!.Materializer);
    }

    /// <summary>The engine's own routing of the key (FNV-1a over its bytes), so every contender shards alike.</summary>
    private static int ShardOf(int item) => (int)(ItemKey.FromInt64(item % Keys).Hash % Shards);

    private void Count(int items)
    {
        Interlocked.Add(ref _items, items);
        Interlocked.Increment(ref _batches);
    }

    private void Reset()
    {
        _items = 0;
        _batches = 0;
    }

    private void Check(string contender, Func<Task> run) =>
        ContenderCheck.Run(nameof(KeyedWindowBenchmarks), contender, run, () =>
            _items != Items ? $"{_items} of {Items} items delivered"
            : _batches != Items / Size ? $"{_batches} batches, not {Items / Size}"
            : null);
}
