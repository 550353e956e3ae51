using System.Runtime.InteropServices;
using System.Threading.Channels;
using System.Threading.Tasks.Dataflow;
using BenchmarkDotNet.Attributes;
using Engine.Routing;
using Engine.Stages;

namespace Engine.Benchmarks;

/// <summary>
/// The writer's side alone: what one write costs the thread that writes, with the consumers parked so
/// that nothing else runs while the writes are measured. <see cref="Items"/> string-keyed writes over
/// 10,000 keys into 4 shards (FNV-1a routing, as in <see cref="KeyedShardingBenchmarks"/>) whose queues
/// have room for all of them, so no write waits and no consumer competes for a core or a cache line.
/// </summary>
/// <remarks>
/// <para>
/// Why it exists: in the keyed and hand-off scenarios the engine's throughput tracks its writer, and
/// those end-to-end runs swing ±30% on this machine with scheduling. One write measured alone is
/// steady, so a change to the write path can be judged here first.
/// </para>
/// <para>
/// Each iteration closes a gate that every consumer's handler awaits, writes the items, and (in the
/// iteration's cleanup, outside the measurement) opens the gate and waits until every item was
/// handled. The stages, blocks and channels live for the whole run, so their queues have grown once
/// and an iteration measures writes, not growth. The contenders: the engine with metrics on (the
/// baseline) and off, and with metrics on written in one <c>WriteManyAsync</c> call; TPL Dataflow (one bounded <c>ActionBlock</c> per shard, <c>Post</c>); and two
/// floors that do no work of a stage: a raw bounded channel of the <c>int</c> item, and a raw bounded
/// channel of a struct the size and shape of the engine's envelope for an <c>int</c> item (80 bytes,
/// three references), which prices moving the envelope rather than the item. Every contender is
/// checked once, outside the measurement, to have taken and handed over every item.
/// </para>
/// <para>
/// The counts are attributes (they apply to every job, <c>--job short</c> included): an iteration is
/// one invocation, because it needs its own setup; two launches, because the spread between
/// processes is wider than within one.
/// </para>
/// </remarks>
[MemoryDiagnoser]
[ProcessCount(2)]
[WarmupCount(20)]
[IterationCount(30)]
[InvocationCount(1)]
public class WritePathBenchmarks
{
    private const int Keys = 10_000;
    private const int Shards = 4;
    private const int WarmRuns = 50;
    private readonly string[] _keys = Enumerable.Range(0, Keys).Select(k => "entity-" + k).ToArray();
    private TaskCompletionSource _gate = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _handled;
    private Stage<int>? _stage;
    private ActionBlock<int>[] _blocks = [];
    private Channel<int>[] _intChannels = [];
    private Channel<EnvelopeShaped>[] _envelopeChannels = [];

    [Params(50_000)]
    public int Items { get; set; }

    [GlobalSetup(Target = nameof(EngineMetricsOn))]
    public void CreateStageWithMetrics() => CreateStage(metrics: true, nameof(EngineMetricsOn), WriteToStage);

    [GlobalSetup(Target = nameof(EngineMetricsOff))]
    public void CreateStageWithoutMetrics() => CreateStage(metrics: false, nameof(EngineMetricsOff), WriteToStage);

    [GlobalSetup(Target = nameof(EngineWriteManyMetricsOn))]
    public void CreateStageWithMetricsForBatches() => CreateStage(metrics: true, nameof(EngineWriteManyMetricsOn), EngineWriteManyMetricsOn);

    [GlobalSetup(Target = nameof(TplDataflow))]
    public void CreateBlocks()
    {
        _blocks = new ActionBlock<int>[Shards];
        for (int s = 0; s < Shards; s++)
        {
            _blocks[s] = new ActionBlock<int>(
                async _ =>
                {
                    await _gate.Task.ConfigureAwait(false);
                    Handled();
                },
                new ExecutionDataflowBlockOptions { BoundedCapacity = Items, SingleProducerConstrained = true });
        }

        Check(nameof(TplDataflow), TplDataflow, DrainHandlers);
    }

    [GlobalSetup(Target = nameof(RawChannelsOfItem))]
    public void CreateIntChannels()
    {
        _intChannels = Enumerable.Range(0, Shards).Select(_ => Channel.CreateBounded<int>(new BoundedChannelOptions(Items))).ToArray();
        Check(nameof(RawChannelsOfItem), RawChannelsOfItem, DrainIntChannels);
    }

    [GlobalSetup(Target = nameof(RawChannelsOfEnvelopeSize))]
    public void CreateEnvelopeChannels()
    {
        _envelopeChannels = Enumerable.Range(0, Shards).Select(_ => Channel.CreateBounded<EnvelopeShaped>(new BoundedChannelOptions(Items))).ToArray();
        Check(nameof(RawChannelsOfEnvelopeSize), RawChannelsOfEnvelopeSize, DrainEnvelopeChannels);
    }

    [GlobalCleanup(Targets = [nameof(EngineMetricsOn), nameof(EngineMetricsOff), nameof(EngineWriteManyMetricsOn)])]
    public void DisposeStage()
    {
        _stage!.Complete();
        _stage.Completion.GetAwaiter().GetResult();
    }

    /// <summary>Closes the gate every parked consumer awaits.</summary>
    [IterationSetup]
    public void CloseGate()
    {
        _handled = 0;
        _drained = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    [IterationCleanup(Targets = [nameof(EngineMetricsOn), nameof(EngineMetricsOff), nameof(EngineWriteManyMetricsOn), nameof(TplDataflow)])]
    public void DrainHandlers()
    {
        _gate.SetResult();
        _drained.Task.GetAwaiter().GetResult();
    }

    [IterationCleanup(Target = nameof(RawChannelsOfItem))]
    public void DrainIntChannels()
    {
        foreach (Channel<int> channel in _intChannels)
        {
            while (channel.Reader.TryRead(out _))
            {
                Handled();
            }
        }
    }

    [IterationCleanup(Target = nameof(RawChannelsOfEnvelopeSize))]
    public void DrainEnvelopeChannels()
    {
        foreach (Channel<EnvelopeShaped> channel in _envelopeChannels)
        {
            while (channel.Reader.TryRead(out _))
            {
                Handled();
            }
        }
    }

    [Benchmark(Baseline = true)]
    public Task EngineMetricsOn() => WriteToStage();

    [Benchmark]
    public Task EngineMetricsOff() => WriteToStage();

    /// <summary>The same writes as <see cref="EngineMetricsOn"/>, as one <see cref="Stage{T}.WriteManyAsync"/> call.</summary>
    [Benchmark]
    public Task EngineWriteManyMetricsOn()
    {
        // Never waits (the shards have room), so the call has completed when it returns.
#pragma warning disable CA2012 // Consumed exactly once: checked complete, then its result read.
        ValueTask<int> written = _stage!.WriteManyAsync(Enumerable.Range(0, Items));
#pragma warning restore CA2012
        if (!written.IsCompletedSuccessfully || written.Result != Items)
        {
            throw new InvalidOperationException("The batched write did not write every item at once.");
        }

        return Task.CompletedTask;
    }

    [Benchmark]
    public Task TplDataflow()
    {
        string[] keys = _keys;
        ActionBlock<int>[] blocks = _blocks;
        for (int i = 0; i < Items; i++)
        {
            if (!blocks[(int)(Fnv1a.Hash32(keys[i % Keys]) % Shards)].Post(i))
            {
                throw new InvalidOperationException("An ActionBlock refused an item: its bound is below the items of an iteration.");
            }
        }

        return Task.CompletedTask;
    }

    [Benchmark]
    public Task RawChannelsOfItem()
    {
        string[] keys = _keys;
        Channel<int>[] channels = _intChannels;
        for (int i = 0; i < Items; i++)
        {
            if (!channels[(int)(Fnv1a.Hash32(keys[i % Keys]) % Shards)].Writer.TryWrite(i))
            {
                throw new InvalidOperationException("A channel refused an item: its bound is below the items of an iteration.");
            }
        }

        return Task.CompletedTask;
    }

    [Benchmark]
    public Task RawChannelsOfEnvelopeSize()
    {
        string[] keys = _keys;
        Channel<EnvelopeShaped>[] channels = _envelopeChannels;
        for (int i = 0; i < Items; i++)
        {
            ItemKey key = keys[i % Keys];
            if (!channels[(int)(key.Hash % Shards)].Writer.TryWrite(new EnvelopeShaped(i, key)))
            {
                throw new InvalidOperationException("A channel refused an item: its bound is below the items of an iteration.");
            }
        }

        return Task.CompletedTask;
    }

    private void CreateStage(bool metrics, string contender, Func<Task> write)
    {
        string[] keys = _keys;
        _stage = Stage.Create(
            new StageOptions<int> { Name = "write-path", Shards = Shards, Capacity = Items, Metrics = metrics, KeySelector = i => keys[i % Keys] },
            async (int item, CancellationToken _) =>
            {
                await _gate.Task.ConfigureAwait(false);
                Handled();
            });
        Check(contender, write, DrainHandlers);
    }

    private Task WriteToStage()
    {
        Stage<int> stage = _stage!;
        for (int i = 0; i < Items; i++)
        {
            // The shards have room for every item of an iteration, so a write never waits: its task
            // has completed when it returns (no await, so the loop is as plain as the other contenders').
#pragma warning disable CA2012 // Consumed exactly once: checked complete, then its result read.
            ValueTask written = stage.WriteAsync(i);
#pragma warning restore CA2012
            if (!written.IsCompletedSuccessfully)
            {
                throw new InvalidOperationException("A write did not complete at once: the shards' capacity is below the items of an iteration.");
            }

            written.GetAwaiter().GetResult();
        }

        return Task.CompletedTask;
    }

    private void Handled()
    {
        if (Interlocked.Increment(ref _handled) == Items)
        {
            _drained.TrySetResult();
        }
    }

    private void Check(string contender, Func<Task> write, Action drain)
    {
        CloseGate();
        ContenderCheck.Run(nameof(WritePathBenchmarks), contender, async () =>
        {
            await write();
            drain();
        }, () => Volatile.Read(ref _handled) == Items ? null : $"handed over {Volatile.Read(ref _handled)} items, expected {Items}");

        // An iteration is one invocation (it needs its own setup), so the measured code would
        // otherwise still be leaving tier 0 during the first iterations: warm it first, unmeasured.
        for (int warm = 0; warm < WarmRuns; warm++)
        {
            CloseGate();
            write().GetAwaiter().GetResult();
            drain();
        }
    }

    /// <summary>
    /// The size and shape of the engine's envelope for an <c>int</c> item (the item, its
    /// <see cref="ItemKey"/>, two timestamps, the attempt count, the dedupe slot, flags and the trace
    /// context): 80 bytes with three references.
    /// </summary>
    [StructLayout(LayoutKind.Auto)]
    private readonly struct EnvelopeShaped
    {
        public readonly int Item;
        public readonly ItemKey Key;
        public readonly long EntryTimestamp;
        public readonly long AcceptedTimestamp;
        public readonly int Attempts;
        public readonly object? Slot;
        public readonly byte Flags;
        public readonly object? Trace;

        /// <summary>Every field written, as the engine's envelope constructor writes them.</summary>
        public EnvelopeShaped(int item, ItemKey key)
        {
            Item = item;
            Key = key;
            EntryTimestamp = 0;
            AcceptedTimestamp = 0;
            Attempts = 0;
            Slot = null;
            Flags = 0;
            Trace = null;
        }
    }
}
