using BenchmarkDotNet.Attributes;
using Engine.Metrics;

namespace Engine.Benchmarks;

/// <summary>
/// What the metrics add to one handler run, measured in isolation on one thread (so thread hand-off
/// noise cannot hide or inflate it): two timestamps, a worker-slot begin/end, and the work-duration
/// and queue-wait histogram increments — exactly the calls a shard makes per item with metrics on.
/// </summary>
[MemoryDiagnoser]
public class MetricsRecordingBenchmarks
{
    private const int Operations = 1000;
    private readonly TimeProvider _clock = TimeProvider.System;
    private ShardMetrics _metrics = null!;
    private ShardMetrics.WorkerSlot _slot = null!;

    [GlobalSetup]
    public void Setup()
    {
        _metrics = new ShardMetrics(1, endToEnd: false, kinds: null, _clock.GetTimestamp(), _clock.TimestampFrequency, EngineMeter.TagsFor(null, "bench", 0), EngineMeter.Default);
        _slot = _metrics.ClaimSlot();
    }

    /// <summary>Per handler run with metrics on.</summary>
    [Benchmark(OperationsPerInvoke = Operations)]
    public long RecordOneRun()
    {
        long accepted = _clock.GetTimestamp();
        for (int i = 0; i < Operations; i++)
        {
            long start = _clock.GetTimestamp();
            _metrics.RecordWait(start - accepted, start);
            _slot.Begin(start);
            long end = _clock.GetTimestamp();
            _slot.End(end);
            _metrics.RecordWork(end - start, end);
        }

        return _slot.Busy;
    }
}
