using System.Diagnostics;
using System.Threading.Tasks.Dataflow;
using BenchmarkDotNet.Attributes;
using Engine.Dedupe;
using Engine.Routing;
using Engine.Stages;

namespace Engine.Benchmarks;

/// <summary>
/// A hot-key burst: a million updates over ten thousand keys (the same random sequence every run)
/// through 4 shards whose handler costs about 20 µs of CPU, where only each key's newest state
/// matters. Measures the time to write the burst and drain it: the engine with replace-pending dedupe
/// (waiting updates of a key collapse into the newest), the engine without it, and TPL Dataflow
/// (FNV router into one bounded ActionBlock per shard), which has no dedupe and so runs every update.
/// </summary>
/// <remarks>
/// Each contender is checked once, outside the measurement: every key's newest version ran; without
/// dedupe every update ran; with it, processed + superseded accounts for every update. One run of a
/// contender that handles every update takes about 10 s on two cores, hence one warmup and three
/// measured iterations (these attributes change every job, including <c>--job short</c>).
/// </remarks>
[MemoryDiagnoser]
[WarmupCount(1)]
[IterationCount(3)]
public class DedupeBurstBenchmarks
{
    private const int Keys = 10_000;
    private const int Shards = 4;
    private static readonly long HandlerTicks = Stopwatch.Frequency * 20 / 1_000_000;

    private (int Key, int Version)[] _updates = [];
    private int[] _newest = [];
    private int[] _processedNewest = [];
    private long _handled;

    [Params(1_000_000)]
    public int Updates { get; set; }

    /// <summary>Per-shard capacity: 1024 (the default; a shard's 2,500 keys do not all fit) and 4096 (they do).</summary>
    [Params(1024, 4096)]
    public int Capacity { get; set; }

    [GlobalSetup(Target = nameof(EngineReplace))]
    public void CheckEngineReplace()
    {
        MakeUpdates();
        StageCounts counts = default;
        Check(nameof(EngineReplace), async () => counts = await RunEngine(dedupe: true), () =>
            counts.Processed + counts.Superseded == Updates ? null : $"processed {counts.Processed:N0} + superseded {counts.Superseded:N0} is not {Updates:N0}");
        Console.WriteLine($"// dedupe capacity={Capacity}: processed {counts.Processed:N0}, superseded {counts.Superseded:N0} of {Updates:N0}");
    }

    [GlobalSetup(Target = nameof(EngineNoDedupe))]
    public void CheckEngineNoDedupe()
    {
        MakeUpdates();
        StageCounts counts = default;
        Check(nameof(EngineNoDedupe), async () => counts = await RunEngine(dedupe: false), () =>
            counts.Processed == Updates ? null : $"processed {counts.Processed:N0} of {Updates:N0}");
    }

    [GlobalSetup(Target = nameof(TplDataflow))]
    public void CheckTplDataflow()
    {
        MakeUpdates();
        Check(nameof(TplDataflow), TplDataflow, () => _handled == Updates ? null : $"handled {_handled:N0} of {Updates:N0}");
    }

    [Benchmark(Baseline = true)]
    public Task<StageCounts> EngineReplace() => RunEngine(dedupe: true);

    [Benchmark]
    public Task<StageCounts> EngineNoDedupe() => RunEngine(dedupe: false);

    [Benchmark]
    public async Task TplDataflow()
    {
        int[] processedNewest = _processedNewest = new int[Keys];
        _handled = 0;
        var blocks = new ActionBlock<(int Key, int Version)>[Shards];
        for (int s = 0; s < Shards; s++)
        {
            blocks[s] = new ActionBlock<(int Key, int Version)>(
                u =>
                {
                    Handle(u, processedNewest);
                    Interlocked.Increment(ref _handled);
                },
                new ExecutionDataflowBlockOptions { BoundedCapacity = Capacity, SingleProducerConstrained = true });
        }

        foreach ((int Key, int Version) update in _updates)
        {
            // The same shard the engine picks for an integer key: FNV-1a of its 8 bytes.
            ActionBlock<(int Key, int Version)> block = blocks[(int)(ItemKey.FromInt64(update.Key).Hash % Shards)];
            if (!block.Post(update))
            {
                await block.SendAsync(update);
            }
        }

        foreach (ActionBlock<(int Key, int Version)> block in blocks)
        {
            block.Complete();
        }

        await Task.WhenAll(blocks.Select(b => b.Completion));
    }

    private static void Handle((int Key, int Version) u, int[] processedNewest)
    {
        long until = Stopwatch.GetTimestamp() + HandlerTicks;
        while (Stopwatch.GetTimestamp() < until)
        {
        }

        // One key is never in two handlers at once, so this needs no synchronisation.
        processedNewest[u.Key] = Math.Max(processedNewest[u.Key], u.Version);
    }

    private async Task<StageCounts> RunEngine(bool dedupe)
    {
        int[] processedNewest = _processedNewest = new int[Keys];
        var stage = Stage.Create(
            new StageOptions<(int Key, int Version)>
            {
                Name = "burst",
                Shards = Shards,
                Capacity = Capacity,
                KeySelector = u => u.Key,
                Dedupe = dedupe ? new DedupeOptions<(int Key, int Version)> { Mode = DedupeMode.Replace } : null,
            },
            ((int Key, int Version) u, CancellationToken _) => Handle(u, processedNewest));

        foreach ((int Key, int Version) update in _updates)
        {
            await stage.WriteAsync(update);
        }

        stage.Complete();
        await stage.Completion;
        return stage.GetCounts();
    }

    private void MakeUpdates()
    {
        var random = new Random(7);
        var versions = new int[Keys];
        _updates = new (int, int)[Updates];
        for (int i = 0; i < Updates; i++)
        {
            int key = random.Next(Keys);
            _updates[i] = (key, ++versions[key]);
        }

        _newest = versions;
    }

    private void Check(string contender, Func<Task> run, Func<string?> problem) =>
        ContenderCheck.Run(nameof(DedupeBurstBenchmarks), contender, run, () =>
            !_processedNewest.AsSpan().SequenceEqual(_newest) ? "not every key's newest version ran" : problem());
}
