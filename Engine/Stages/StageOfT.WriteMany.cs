using System.Buffers;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using Engine.Routing;
using Engine.Shards;
using Engine.Tracing;

namespace Engine.Stages;

/// <summary>Writes of many items at once: <see cref="WriteManyAsync"/>.</summary>
public sealed partial class Stage<T>
{
    /// <summary>
    /// The most items <see cref="WriteManyAsync"/> writes as one group: one clock read, and per shard
    /// one outstanding count, one accepted count and one loop check for all of them.
    /// </summary>
    internal const int WriteGroupSize = 64;

    /// <summary>
    /// Writes items in order, with <see cref="WriteAsync(T, CancellationToken)"/>'s rules for each:
    /// an item is written only after the one before it was accepted (or dropped by the full mode), so
    /// the items of one key keep their order, and a write that waits for room holds back the items
    /// after it. If a write fails, the items before it stay accepted and the exception propagates.
    /// </summary>
    /// <remarks>
    /// <para>
    /// Cheaper per item than one <see cref="WriteAsync(T, CancellationToken)"/> call per item. Items
    /// are taken from <paramref name="items"/> in groups of up to 64, and every key of a group is
    /// selected before any of its items is written. A group's items are stamped as accepted with one
    /// clock read, taken after the keys are selected and before the first write; the stamp precedes
    /// each write by at most the group's other writes, so queue waits read from it are never short
    /// (see docs/metrics.md). Each shard counts a group's accepted items, and checks that a worker
    /// runs for them, once at the end of its writes.
    /// </para>
    /// <para>
    /// While a group is being written, a worker may settle one of its items before the group's
    /// accepted count is added: for that moment a shard's counts show up to a group's items processed
    /// but not yet accepted. Every count is exact once the call returns.
    /// </para>
    /// <para>
    /// An item that does not go in at once (its shard is full, the stage completed, or the full mode
    /// turns it away) ends its group and is written alone, as <see cref="WriteAsync(T, CancellationToken)"/>
    /// writes it; the rest follow in a new group. A dedupe stage writes every item alone.
    /// </para>
    /// </remarks>
    /// <param name="items">The items, in order; enumerated once, a group ahead of the writes.</param>
    /// <param name="cancellationToken">
    /// Checked before each group, and ends any wait for room; items written before it fired stay
    /// accepted.
    /// </param>
    /// <returns>How many items were written (including any that <see cref="StageFullMode.DropWrite"/> dropped).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="items"/> is null.</exception>
    /// <exception cref="ArgumentException">The key selector threw for an item; the items before it were written.</exception>
    /// <exception cref="StageCompletedException">The stage was completed or stopped; the items before it were written.</exception>
    /// <exception cref="StageFullException">A shard is full and the mode is <see cref="StageFullMode.Reject"/>; the items before it were written.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> fired; the items written before stay accepted.</exception>
    public async ValueTask<int> WriteManyAsync(IEnumerable<T> items, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(items);
        if (_runtime.Dedupe is not null)
        {
            int alone = 0;
            foreach (T item in items)
            {
                await WriteAsync(item, cancellationToken).ConfigureAwait(false);
                alone++;
            }

            return alone;
        }

        T[] buffer = ArrayPool<T>.Shared.Rent(WriteGroupSize);
        ItemKey[] keys = ArrayPool<ItemKey>.Shared.Rent(WriteGroupSize);
        int[] counts = ArrayPool<int>.Shared.Rent((2 * _shards.Length) + (2 * WriteGroupSize));

        // A rented array holds whatever its last user left; WriteGroup keeps the per-shard counts zero from here.
        counts.AsSpan(0, 2 * _shards.Length).Clear();
        try
        {
            using IEnumerator<T> enumerator = items.GetEnumerator();
            int written = 0;
            bool more = true;
            while (more)
            {
                cancellationToken.ThrowIfCancellationRequested();

                // The group's user code (the enumerator, the key selector) runs before any of its
                // writes, so the group's one clock read is taken right before them. What it throws
                // ends the call after the items before it were written.
                int count = 0;
                ExceptionDispatchInfo? error = null;
                while (count < WriteGroupSize)
                {
                    try
                    {
                        if (!enumerator.MoveNext())
                        {
                            more = false;
                            break;
                        }

                        T item = enumerator.Current;
                        keys[count] = SelectKey(item);
                        buffer[count] = item;
                        count++;
                    }
                    catch (Exception ex)
                    {
                        error = ExceptionDispatchInfo.Capture(ex);
                        more = false;
                        break;
                    }
                }

                object? trace = EngineTracing.Capture();
                int next = 0;
                while (next < count)
                {
                    int from = next;
                    next = WriteGroup(buffer, keys, from, count, trace, counts);
                    written += next - from;
                    if (next < count)
                    {
                        // Did not go in at once: written alone, with every rule of a single write.
                        await WriteKeyedAsync(buffer[next], keys[next], entryTimestamp: 0, trace, cancellationToken).ConfigureAwait(false);
                        written++;
                        next++;
                    }
                }

                error?.Throw();
            }

            return written;
        }
        finally
        {
            ArrayPool<T>.Shared.Return(buffer, clearArray: RuntimeHelpers.IsReferenceOrContainsReferences<T>());
            ArrayPool<ItemKey>.Shared.Return(keys, clearArray: true);
            ArrayPool<int>.Shared.Return(counts);
        }
    }

    /// <summary>
    /// Writes <paramref name="items"/>[<paramref name="from"/>..<paramref name="to"/>) in order
    /// through each shard's group path (<see cref="Shard{T}.BeginWrites"/>), until one does not go in.
    /// </summary>
    /// <param name="items">The group's items.</param>
    /// <param name="keys">Their keys.</param>
    /// <param name="from">The first item to write.</param>
    /// <param name="to">One past the last item to write.</param>
    /// <param name="trace">What the items carry of the writer's trace context.</param>
    /// <param name="scratch">
    /// Room for two counts per shard (opened, written) and two per item (its shard, the shards the
    /// group touched); the per-shard counts are zero on entry and left zero.
    /// </param>
    /// <returns>The index of the first item not written; <paramref name="to"/> when all went in.</returns>
    private int WriteGroup(T[] items, ItemKey[] keys, int from, int to, object? trace, int[] scratch)
    {
        int shards = _shards.Length;
        Span<int> opened = scratch.AsSpan(0, shards);
        Span<int> written = scratch.AsSpan(shards, shards);
        Span<int> shardOf = scratch.AsSpan(2 * shards, WriteGroupSize);
        Span<int> touched = scratch.AsSpan((2 * shards) + WriteGroupSize, WriteGroupSize);
        int touchedCount = 0;
        for (int i = from; i < to; i++)
        {
            int shard = ShardOf(keys[i]);
            shardOf[i] = shard;
            if (opened[shard]++ == 0)
            {
                touched[touchedCount++] = shard;
            }
        }

        for (int t = 0; t < touchedCount; t++)
        {
            _shards[touched[t]].BeginWrites();
        }

        // One stamp for the group, read after its keys were selected and before its first write.
        long now = _runtime.StampsWrites ? _runtime.TimeProvider.GetTimestamp() : 0;
        int next = from;
        try
        {
            for (; next < to; next++)
            {
                int shard = shardOf[next];
                if (!_shards[shard].TryWriteCounted(new Envelope<T>(items[next], keys[next], now, now) { Trace = trace }))
                {
                    break;
                }

                written[shard]++;
            }
        }
        finally
        {
            for (int t = 0; t < touchedCount; t++)
            {
                int shard = touched[t];
                _shards[shard].EndWrites(written[shard]);
                opened[shard] = 0;
                written[shard] = 0;
            }
        }

        Debug.Assert(next >= from && next <= to, "the group stops inside its items");
        return next;
    }
}
