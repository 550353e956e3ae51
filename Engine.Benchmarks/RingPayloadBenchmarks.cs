using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using Engine.Queues;
using Engine.Routing;
using Engine.Shards;

namespace Engine.Benchmarks;

/// <summary>
/// What the size of what crosses the queue costs the ring itself: <see cref="Items"/> items through one
/// <see cref="RingChannel{T}"/> (capacity 1024) from one writer thread to one taker thread, both
/// spinning, nothing else per item. The payloads: the engine's envelope for an <c>int</c> item as it is
/// (<see cref="Envelope{T}"/>, 80 bytes, three references) and the compact shape issue 24 asked for (32
/// bytes: the item, two timestamps, one reference for what few items need).
/// </summary>
/// <remarks>
/// Issue 24 expected the ring's advantage to vanish with an 80-byte item unless the envelope shrank to
/// 40 bytes. This prices the difference on its own, so the decision can rest on a figure: see
/// docs/benchmarks.md ("Issue 24, third part").
/// </remarks>
[MemoryDiagnoser]
public class RingPayloadBenchmarks
{
    /// <summary>One key for every item: the key is carried, not computed, so both payloads cost the same to make.</summary>
    private static readonly ItemKey Key = ItemKey.FromString("entity-1");

    [Params(1_000_000)]
    public int Items { get; set; }

    [Benchmark(Baseline = true)]
    public Task EngineEnvelope() => Run(static i => new Envelope<int>(i, Key, i, i), static e => e.Item);

    [Benchmark]
    public Task CompactShape() => Run(static i => new CompactShape { Item = i, EntryTimestamp = i, AcceptedTimestamp = i }, static c => c.Item);

    /// <summary>The sizes compared (checked when the class is used, so a change to the envelope is seen).</summary>
    [GlobalSetup]
    public void CheckSizes()
    {
        if (Unsafe.SizeOf<Envelope<int>>() != 80 || Unsafe.SizeOf<CompactShape>() != 32)
        {
            throw new InvalidOperationException($"sizes changed: envelope {Unsafe.SizeOf<Envelope<int>>()} B, compact {Unsafe.SizeOf<CompactShape>()} B; update the docs");
        }
    }

    private Task Run<T>(Func<int, T> make, Func<T, int> item)
    {
        var ring = new RingChannel<T>(1024);
        int items = Items;
        long sum = 0;
        var taker = new Thread(() =>
        {
            var spinner = default(SpinWait);
            for (int taken = 0; taken < items;)
            {
                if (ring.TryRead(out T? got))
                {
                    sum += item(got);
                    taken++;
                }
                else
                {
                    spinner.SpinOnce(sleep1Threshold: -1);
                }
            }
        });
        taker.Start();
        var writerSpin = default(SpinWait);
        for (int i = 0; i < items; i++)
        {
            T next = make(i);
            while (!ring.TryWrite(in next))
            {
                writerSpin.SpinOnce(sleep1Threshold: -1);
            }
        }

        taker.Join();
        long expected = (long)items * (items - 1) / 2;
        return sum == expected ? Task.CompletedTask : throw new InvalidOperationException($"taken items sum to {sum}, not {expected}");
    }
}

/// <summary>The compact envelope shape issue 24 asked for, for an <c>int</c> item: 32 bytes, one reference.</summary>
[StructLayout(LayoutKind.Auto)]
internal struct CompactShape
{
    public int Item;
    public int Attempts;
    public long EntryTimestamp;
    public long AcceptedTimestamp;
    public object? Side;
}
