using System.Diagnostics;
using Engine.Routing;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;

namespace Engine.Nats;

/// <summary>
/// Writes items into a distributed stage: each goes to partition <c>Fnv1a(key) % Partitions</c>, subject
/// <c>{stage}.{partition}.{key token}</c>, and a write returns only once the server has stored it
/// (its PubAck). Create one with <see cref="NatsStage.CreateWriterAsync{T}"/>. Thread-safe.
/// </summary>
/// <typeparam name="T">The item type.</typeparam>
[DebuggerDisplay("Stage = {Name}, Partitions = {Partitions}")]
public sealed class NatsStageWriter<T>
{
    private readonly NatsStageRuntime<T> _runtime;

    /// <summary>The next partition for an unkeyed item (round-robin).</summary>
    private int _unkeyed = -1;

    internal NatsStageWriter(NatsStageRuntime<T> runtime) => _runtime = runtime;

    /// <summary>The distributed stage's name.</summary>
    public string Name => _runtime.Names.Stage;

    /// <summary>The number of partitions.</summary>
    public int Partitions => _runtime.Partitions;

    /// <summary>The partition an item with <paramref name="key"/> goes to: <c>Fnv1a(key) % Partitions</c>, the engine's own routing.</summary>
    /// <param name="key">A key other than <see cref="ItemKey.None"/>.</param>
    /// <returns>The partition, from 0 to <see cref="Partitions"/> − 1.</returns>
    /// <exception cref="ArgumentException"><paramref name="key"/> is <see cref="ItemKey.None"/>.</exception>
    public int PartitionOf(ItemKey key) => key.IsNone
        ? throw new ArgumentException("An unkeyed item has no fixed partition.", nameof(key))
        : NatsStage.PartitionOf(key, Partitions);

    /// <summary>
    /// Writes an item and waits for the server to store it.
    /// </summary>
    /// <param name="item">The item.</param>
    /// <param name="messageId">
    /// An optional <c>Nats-Msg-Id</c> for producer retries: a second write with the same id inside the
    /// duplicate window is dropped by the server (<see cref="NatsWriteResult.Duplicate"/>). Never derive it
    /// from the content (A, B, A would lose the last A).
    /// </param>
    /// <param name="cancellationToken">Stops waiting; the item may or may not have been stored.</param>
    /// <returns>Where the item was stored.</returns>
    /// <exception cref="ArgumentException">The key selector or serialiser threw, or the key is too long for a subject.</exception>
    /// <exception cref="NatsStagePublishException">The server rejected the write, no stream took it, or no PubAck came within <see cref="NatsStageOptions{T}.PublishTimeout"/>.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> fired.</exception>
    public async ValueTask<NatsWriteResult> WriteAsync(T item, string? messageId = null, CancellationToken cancellationToken = default)
    {
        (int partition, string subject, byte[] payload) = Prepare(item);
        PubAckResponse ack = await PublishAsync(_runtime, subject, payload, messageId, null, cancellationToken).ConfigureAwait(false);
        return new NatsWriteResult(partition, ack.Seq, ack.Duplicate);
    }

    /// <summary>
    /// Writes items with up to <paramref name="maxInFlight"/> PubAcks outstanding at once, which is much
    /// faster than awaiting each write. A key's items are stored in the order given: an item whose key
    /// still has a write in flight waits for that write's PubAck first (so neither the client's
    /// internals nor a retried publish can reorder a key). Returns once every item is stored; if one
    /// fails, the exception propagates once the writes already started have finished (those before it
    /// may be stored).
    /// </summary>
    /// <param name="items">The items, in order.</param>
    /// <param name="maxInFlight">The most writes awaiting their PubAck at once; from 1.</param>
    /// <param name="cancellationToken">Stops writing.</param>
    /// <returns>How many items were stored.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="items"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxInFlight"/> is below 1.</exception>
    /// <exception cref="NatsStagePublishException">A write failed (see <see cref="WriteAsync"/>).</exception>
    public async ValueTask<long> WriteManyAsync(IEnumerable<T> items, int maxInFlight = 256, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(items);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxInFlight, 1);
        var window = new Queue<(string Subject, Task<PubAckResponse> Write)>(maxInFlight);

        // The write in flight per subject (one subject per key), so a key never has two at once.
        var inFlight = new Dictionary<string, Task<PubAckResponse>>(StringComparer.Ordinal);
        long written = 0;
        try
        {
            foreach (T item in items)
            {
                if (window.Count == maxInFlight)
                {
                    await Retire(window.Dequeue()).ConfigureAwait(false);
                }

                (_, string subject, byte[] payload) = Prepare(item);
                if (inFlight.TryGetValue(subject, out Task<PubAckResponse>? previous))
                {
                    await previous.ConfigureAwait(false);
                }

                Task<PubAckResponse> write = PublishAsync(_runtime, subject, payload, null, null, cancellationToken);
                inFlight[subject] = write;
                window.Enqueue((subject, write));
            }

            while (window.Count > 0)
            {
                await Retire(window.Dequeue()).ConfigureAwait(false);
            }

            Debug.Assert(inFlight.Count == 0, "every write retired");
            return written;
        }
        finally
        {
            // Never leave publishes unobserved behind an exception.
            foreach ((_, Task<PubAckResponse> pending) in window)
            {
                try
                {
                    await pending.ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is NatsStagePublishException or OperationCanceledException)
                {
                    // The first failure is the one reported.
                }
            }
        }

        async Task Retire((string Subject, Task<PubAckResponse> Write) entry)
        {
            await entry.Write.ConfigureAwait(false);
            written++;
            if (inFlight.TryGetValue(entry.Subject, out Task<PubAckResponse>? latest) && latest == entry.Write)
            {
                inFlight.Remove(entry.Subject);
            }
        }
    }

    /// <summary>Publishes and turns every way a PubAck can fail into <see cref="NatsStagePublishException"/>.</summary>
    internal static async Task<PubAckResponse> PublishAsync(NatsStageRuntime<T> runtime, string subject, byte[] payload, string? messageId, NatsHeaders? headers, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(runtime.Options.PublishTimeout);
        PubAckResponse ack;
        try
        {
            ack = await runtime.Js.PublishAsync(subject, payload, opts: messageId is null ? null : new NatsJSPubOpts { MsgId = messageId }, headers: headers, cancellationToken: timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new NatsStagePublishException($"No PubAck for '{subject}' within {runtime.Options.PublishTimeout}: the server is unreachable or slow. The item may or may not be stored.", ex) { Subject = subject };
        }
        catch (NatsNoRespondersException ex)
        {
            throw new NatsStagePublishException($"No stream took '{subject}' (no responders): the stage's streams are missing or the server is not running JetStream.", ex) { Subject = subject, ErrorCode = 503 };
        }
        catch (NatsJSApiException ex)
        {
            throw new NatsStagePublishException($"The server rejected '{subject}': {ex.Error.Description} (code {ex.Error.Code}, error {ex.Error.ErrCode}).", ex) { Subject = subject, ErrorCode = ex.Error.Code };
        }
        catch (NatsException ex)
        {
            throw new NatsStagePublishException($"Publishing '{subject}' failed: {ex.Message}", ex) { Subject = subject };
        }

        // A PubAck can carry an error and still come back as a "successful" call (a 503 from a full
        // stream, for one); a rejected publish must never look stored.
        if (ack.Error is { } error)
        {
            throw new NatsStagePublishException($"The server rejected '{subject}': {error.Description} (code {error.Code}, error {error.ErrCode}).") { Subject = subject, ErrorCode = error.Code };
        }

        return ack;
    }

    private (int Partition, string Subject, byte[] Payload) Prepare(T item)
    {
        ItemKey key;
        byte[] payload;
        try
        {
            key = _runtime.KeySelector(item);
            payload = _runtime.Serialize(item);
        }
        catch (Exception ex)
        {
            throw new ArgumentException($"Distributed stage '{Name}': the key selector or serialiser threw: {ex.Message}", nameof(item), ex);
        }

        int partition;
        string token;
        if (key.IsNone)
        {
            partition = (int)((uint)Interlocked.Increment(ref _unkeyed) % (uint)Partitions);

            // A unique token, so latest-per-key streams never collapse unkeyed items into one.
            token = "~n" + Guid.NewGuid().ToString("N");
        }
        else
        {
            partition = NatsStage.PartitionOf(key, Partitions);
            token = KeyToken.Encode(key);
        }

        return (partition, _runtime.Names.Subject(partition, token), payload);
    }
}
