using System.Globalization;
using System.Text;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.KeyValueStore;

namespace Engine.Nats;

/// <summary>
/// A distributed stage's overall accounting, read from the server alone (no member needed): how many
/// messages were ever stored in its partition streams, how many are still there, and how many were
/// dead-lettered. Read one with <see cref="NatsStage.GetStatusAsync"/>.
/// </summary>
/// <remarks>
/// The partition streams are work queues: a message leaves its stream only when a member acknowledged
/// it, which a member does only once its local stage settled the item (processed, dead-lettered or
/// superseded by dedupe; with latest-per-key the server also removes a message a newer one of its key
/// replaced). So every message ever stored (the stream's last sequence) is either still in the stream
/// (<see cref="Remaining"/>) or settled, and <see cref="Drained"/> means nothing is left.
/// </remarks>
public sealed class NatsStageStatus
{
    /// <summary>The distributed stage's name.</summary>
    public string Stage { get; init; } = "";

    /// <summary>The partition count, as stored in the stage's layout by its first member or writer.</summary>
    public int Partitions { get; init; }

    /// <summary>Messages ever stored in the partition streams (the sum of their last sequences).</summary>
    public long Stored { get; init; }

    /// <summary>Messages still in the partition streams: not delivered yet, or delivered and not acknowledged.</summary>
    public long Remaining { get; init; }

    /// <summary>Messages stored and gone from the streams: <see cref="Stored"/> − <see cref="Remaining"/>.</summary>
    public long Settled => Stored - Remaining;

    /// <summary>Messages in the stage's DLQ stream (settled by dead-lettering; also counted in <see cref="Settled"/>).</summary>
    public long DeadLettered { get; init; }

    /// <summary>Messages still in each partition's stream, by partition.</summary>
    public IReadOnlyList<long> RemainingByPartition { get; init; } = [];

    /// <summary>Each partition's lease holder (null when no member holds it), by partition.</summary>
    public IReadOnlyList<string?> Owners { get; init; } = [];

    /// <summary>The members whose heartbeat is live, sorted.</summary>
    public IReadOnlyList<string> LiveMembers { get; init; } = [];

    /// <summary>Whether every stored message was settled: <see cref="Remaining"/> is 0.</summary>
    public bool Drained => Remaining == 0;

    /// <summary>
    /// One line: <c>stored=… settled=… remaining=… dead-lettered=… drained=true|false</c>, the form the
    /// member program and the demo print.
    /// </summary>
    /// <returns>The line.</returns>
    public override string ToString() => string.Create(
        CultureInfo.InvariantCulture,
        $"stored={Stored} settled={Settled} remaining={Remaining} dead-lettered={DeadLettered} drained={(Drained ? "true" : "false")}");

    internal static async Task<NatsStageStatus> ReadAsync(INatsConnection connection, string stage, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentException.ThrowIfNullOrEmpty(stage);
        var names = new NatsStageNames(stage);
        var js = new NatsJSContext(connection);
        var kv = new NatsKVContext(js);

        // The partition count comes from the layout the first member or writer stored, so a status
        // reader cannot disagree with the stage about it.
        int partitions;
        try
        {
            INatsKVStore config = await kv.GetStoreAsync(names.ConfigBucket, cancellationToken).ConfigureAwait(false);
            NatsKVEntry<byte[]> layout = await config.GetEntryAsync<byte[]>(NatsStageLayout.Key, cancellationToken: cancellationToken).ConfigureAwait(false);
            partitions = NatsStageLayout.PartitionsOf(layout.Value is null ? string.Empty : Encoding.UTF8.GetString(layout.Value));
        }
        catch (NatsKVException ex)
        {
            throw new NatsStageConfigurationException($"Distributed stage '{stage}' does not exist on the server (no layout in bucket {names.ConfigBucket}): start a member or a writer of it first.", ex);
        }
        catch (NatsJSApiException ex)
        {
            throw new NatsStageConfigurationException($"Distributed stage '{stage}' does not exist on the server (no bucket {names.ConfigBucket}): start a member or a writer of it first.", ex);
        }

        long stored = 0;
        var remaining = new long[partitions];
        for (int p = 0; p < partitions; p++)
        {
            INatsJSStream stream = await js.GetStreamAsync(names.PartitionStream(p), cancellationToken: cancellationToken).ConfigureAwait(false);
            stored += (long)stream.Info.State.LastSeq;
            remaining[p] = stream.Info.State.Messages;
        }

        long dead = (await js.GetStreamAsync(names.DeadLetterStream, cancellationToken: cancellationToken).ConfigureAwait(false)).Info.State.Messages;
        INatsKVStore owners = await kv.GetStoreAsync(names.OwnersBucket, cancellationToken).ConfigureAwait(false);
        var owner = new string?[partitions];
        for (int p = 0; p < partitions; p++)
        {
            NatsResult<NatsKVEntry<byte[]>> entry = await owners.TryGetEntryAsync<byte[]>(NatsStageNames.LeaseKey(p), cancellationToken: cancellationToken).ConfigureAwait(false);
            owner[p] = entry.Success && entry.Value.Value is { } value ? Encoding.UTF8.GetString(value) : null;
        }

        var live = new List<string>();
        INatsKVStore members = await kv.GetStoreAsync(names.MembersBucket, cancellationToken).ConfigureAwait(false);
        await foreach (string key in members.GetKeysAsync(cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            live.Add(key);
        }

        live.Sort(StringComparer.Ordinal);
        return new NatsStageStatus
        {
            Stage = stage,
            Partitions = partitions,
            Stored = stored,
            Remaining = remaining.Sum(),
            DeadLettered = dead,
            RemainingByPartition = remaining,
            Owners = owner,
            LiveMembers = live,
        };
    }
}
