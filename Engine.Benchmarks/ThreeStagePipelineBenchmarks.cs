using System.Threading.Tasks.Dataflow;
using Akka;
using Akka.Streams.Dsl;
using BenchmarkDotNet.Attributes;
using Engine.Pipelines;
using Engine.Routing;

namespace Engine.Benchmarks;

/// <summary>
/// A three-stage pipeline with re-keying: 1,000,000 items over 10,000 entities through parse (keyed
/// by entity), enrich (re-keyed by account) and store (re-keyed by tenant), 4 shards and capacity 1024
/// per stage, trivial handlers. The engine (<c>Pipeline.Create … Then … Then … Sink</c>, metrics on)
/// against linked TPL Dataflow blocks (per stage one bounded block per shard; each block's outputs are
/// linked to the next stage's blocks with a predicate on the shard its handler computed) and
/// Akka.Streams (per stage GroupBy on the shard, the handler behind an async boundary per substream,
/// merged before the next stage).
/// </summary>
/// <remarks>
/// <para>
/// Accounts are a one-to-one renaming of entities (entity × 7919 mod 10,000), so re-keying moves items
/// to other shards without merging entities; tenants (entity mod 100) are coarser. Either way all of an
/// entity's items share one key at every stage, so per-entity order must hold at every stage, and it
/// is checked at every stage.
/// </para>
/// <para>
/// Each contender is checked once, outside the measurement: every item reached the store, enriched,
/// with no entity out of order at any stage.
/// </para>
/// </remarks>
[MemoryDiagnoser]
public class ThreeStagePipelineBenchmarks
{
    private const int Entities = 10_000;
    private const int Tenants = 100;
    private const int Shards = 4;
    private const int Capacity = 1024;
    private readonly string[] _entityKeys = Enumerable.Range(0, Entities).Select(e => "entity-" + e).ToArray();
    private readonly string[] _accountKeys = Enumerable.Range(0, Entities).Select(e => "account-" + (e * 7919 % Entities)).ToArray();
    private readonly string[] _tenantKeys = Enumerable.Range(0, Tenants).Select(t => "tenant-" + t).ToArray();
    private readonly PerKeyOrder _parseOrder = new(Entities);
    private readonly PerKeyOrder _enrichOrder = new(Entities);
    private readonly PerKeyOrder _storeOrder = new(Entities);
    private long _stored;
    private long _notEnriched;
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
        _akka = AkkaStreamsHost.Start("pipeline");
        Check(nameof(AkkaStreams), AkkaStreams);
    }

    [GlobalCleanup(Target = nameof(AkkaStreams))]
    public void StopAkka() => AkkaStreamsHost.Stop(_akka);

    [Benchmark(Baseline = true)]
    public async Task Engine()
    {
        Reset();
        string[] entities = _entityKeys;
        string[] accounts = _accountKeys;
        string[] tenants = _tenantKeys;
        await using Pipeline<int> pipeline = Pipeline.Create<int>("three")
            .Then("parse", (int id, CancellationToken _) => new ValueTask<Order>(Parse(id)), o => Shape(o, id => entities[id % Entities]))
            .Then("enrich", (Order order, CancellationToken _) => new ValueTask<Order>(Enrich(order)), o => Shape(o, order => accounts[order.Entity]))
            .Sink(
                "store",
                (Order order, CancellationToken _) =>
                {
                    Store(order);
                    return ValueTask.CompletedTask;
                },
                o => Shape(o, order => tenants[order.Entity % Tenants]))
            .Build();
        for (int i = 0; i < Items; i++)
        {
            await pipeline.WriteAsync(i);
        }

        await pipeline.CompleteAsync();
    }

    [Benchmark]
    public async Task TplDataflow()
    {
        Reset();
        var parse = new TransformBlock<int, Routed>[Shards];
        var enrich = new TransformBlock<Routed, Routed>[Shards];
        var store = new ActionBlock<Routed>[Shards];
        var fromRouter = new ExecutionDataflowBlockOptions { BoundedCapacity = Capacity, SingleProducerConstrained = true };
        var fromBlocks = new ExecutionDataflowBlockOptions { BoundedCapacity = Capacity };
        for (int s = 0; s < Shards; s++)
        {
            // Each handler also hashes the next stage's key, as the engine's key selectors do, so the
            // link predicates only compare the shard it computed.
            parse[s] = new TransformBlock<int, Routed>(id => Route(Parse(id), _accountKeys[id % Entities]), fromRouter);
            enrich[s] = new TransformBlock<Routed, Routed>(r => Route(Enrich(r.Order), _tenantKeys[r.Order.Entity % Tenants]), fromBlocks);
            store[s] = new ActionBlock<Routed>(r => Store(r.Order), fromBlocks);
        }

        // A source offers its oldest output to the first target whose predicate accepts it and waits
        // while that target is full, so links keep each block's output order and propagate backpressure.
        // Completion is not propagated along the links: a block has four upstreams and must complete
        // only after all of them have.
        for (int from = 0; from < Shards; from++)
        {
            for (int to = 0; to < Shards; to++)
            {
                int shard = to;
                parse[from].LinkTo(enrich[to], r => r.Shard == shard);
                enrich[from].LinkTo(store[to], r => r.Shard == shard);
            }
        }

        for (int i = 0; i < Items; i++)
        {
            TransformBlock<int, Routed> block = parse[ShardOf(_entityKeys[i % Entities])];
            if (!block.Post(i))
            {
                await block.SendAsync(i);
            }
        }

        await CompleteAll(parse);
        await CompleteAll(enrich);
        await CompleteAll(store);
    }

    [Benchmark]
    public Task AkkaStreams()
    {
        Reset();
        return Source.From(Enumerable.Range(0, Items))
            .ViaShards(Shards, id => ShardOf(_entityKeys[id % Entities]), Parse)
            .ViaShards(Shards, order => ShardOf(_accountKeys[order.Entity]), Enrich)
            .ViaShards(Shards, order => ShardOf(_tenantKeys[order.Entity % Tenants]), order =>
            {
                Store(order);
                return NotUsed.Instance;
            })
            .RunWith(Sink.Ignore<NotUsed>(), _akka!.Materializer);
    }

    private static void Shape<T>(Stages.StageOptions<T> options, Func<T, ItemKey> key)
    {
        options.KeySelector = key;
        options.Shards = Shards;
        options.Capacity = Capacity;
    }

    private static int ShardOf(string key) => (int)(Fnv1a.Hash32(key) % Shards);

    private static Routed Route(Order order, string nextKey) => new(order, ShardOf(nextKey));

    private static async Task CompleteAll(IDataflowBlock[] blocks)
    {
        foreach (IDataflowBlock block in blocks)
        {
            block.Complete();
        }

        // A transform block's completion also waits for its outputs to be taken by the next stage.
        await Task.WhenAll(blocks.Select(b => b.Completion));
    }

    private Order Parse(int id)
    {
        _parseOrder.See(id % Entities, id);
        return new Order(id, id % Entities, 0);
    }

    private Order Enrich(Order order)
    {
        _enrichOrder.See(order.Entity, order.Id);
        return order with { Value = 3L * order.Id };
    }

    private void Store(Order order)
    {
        _storeOrder.See(order.Entity, order.Id);
        if (order.Value != 3L * order.Id)
        {
            Interlocked.Increment(ref _notEnriched);
        }

        Interlocked.Increment(ref _stored);
    }

    private void Reset()
    {
        _parseOrder.Reset();
        _enrichOrder.Reset();
        _storeOrder.Reset();
        _stored = 0;
        _notEnriched = 0;
    }

    private void Check(string contender, Func<Task> run) =>
        ContenderCheck.Run(nameof(ThreeStagePipelineBenchmarks), contender, run, () =>
            _stored == Items && _notEnriched == 0 && _parseOrder.OutOfOrder + _enrichOrder.OutOfOrder + _storeOrder.OutOfOrder == 0
                ? null
                : $"stored {_stored} of {Items} ({_notEnriched} not enriched), out of order in parse/enrich/store: {_parseOrder.OutOfOrder}/{_enrichOrder.OutOfOrder}/{_storeOrder.OutOfOrder}");

    /// <summary>An item after parsing: its input position, its entity, and what enrich adds.</summary>
    private readonly record struct Order(int Id, int Entity, long Value);

    /// <summary>A TPL Dataflow output with the shard of the next stage it must go to.</summary>
    private readonly record struct Routed(Order Order, int Shard);
}
