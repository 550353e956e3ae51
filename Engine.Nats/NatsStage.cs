using Engine.Routing;
using NATS.Client.Core;

namespace Engine.Nats;

/// <summary>
/// Creates writers and members of a distributed stage: one keyed stage spread over processes on NATS
/// JetStream, with a fixed number of partitions (one work-queue stream each) owned by the live members
/// through leases. See <c>docs/scale-out.md</c>.
/// </summary>
public static class NatsStage
{
    /// <summary>The partition of a key among <paramref name="partitions"/>: <c>Fnv1a(key) % partitions</c>, the engine's shard routing.</summary>
    /// <param name="key">The key; not <see cref="ItemKey.None"/>.</param>
    /// <param name="partitions">The partition count, at least 1.</param>
    /// <returns>The partition.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="partitions"/> is below 1.</exception>
    public static int PartitionOf(ItemKey key, int partitions)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(partitions, 1);
        return (int)(key.Hash % (uint)partitions);
    }

    /// <summary>
    /// The subject token a key is written under: the key itself when it is text that is a safe subject
    /// token (so the server's <c>partition()</c> mapping agrees with <see cref="PartitionOf"/>), an escaped
    /// form (starting with <c>~</c>) otherwise.
    /// </summary>
    /// <param name="key">The key; not <see cref="ItemKey.None"/>.</param>
    /// <returns>The token.</returns>
    /// <exception cref="ArgumentException">The key is <see cref="ItemKey.None"/> or too long for a subject.</exception>
    public static string SubjectToken(ItemKey key) => KeyToken.Encode(key);

    /// <summary>
    /// Creates a writer: validates the options, creates the stage's streams and buckets if they do not
    /// exist, and checks the layout against the one stored by the first member or writer.
    /// </summary>
    /// <typeparam name="T">The item type.</typeparam>
    /// <param name="connection">The NATS connection (not owned: the caller disposes it).</param>
    /// <param name="options">The stage's options; validated and read now.</param>
    /// <param name="cancellationToken">Stops the setup.</param>
    /// <returns>The writer.</returns>
    /// <exception cref="ArgumentException">An option is invalid; the message names it.</exception>
    /// <exception cref="NatsStageConfigurationException">The layout differs from the stage's stored one.</exception>
    /// <exception cref="NatsException">The server did not answer within <see cref="NatsStageOptions{T}.StartupAttempts"/> attempts.</exception>
    public static async Task<NatsStageWriter<T>> CreateWriterAsync<T>(INatsConnection connection, NatsStageOptions<T> options, CancellationToken cancellationToken = default)
    {
        NatsStageRuntime<T> runtime = await NatsStageRuntime<T>.CreateAsync(connection, options, cancellationToken).ConfigureAwait(false);
        return new NatsStageWriter<T>(runtime);
    }

    /// <summary>
    /// Starts a member: sets the stage up as <see cref="CreateWriterAsync{T}"/> does, joins (heartbeat)
    /// and starts taking its share of the partitions in the background.
    /// </summary>
    /// <typeparam name="T">The item type.</typeparam>
    /// <param name="connection">The NATS connection (not owned: dispose it after the member).</param>
    /// <param name="options">The stage's options; validated and read now.</param>
    /// <param name="handler">
    /// Handles one item, with its <see cref="NatsItemContext"/>. Its message is acknowledged when it
    /// returns; an exception is retried by the local stage's retry options and then dead-lettered to the
    /// DLQ stream. It may run again for an item after a crash or a lost lease: make it idempotent.
    /// </param>
    /// <param name="cancellationToken">Stops the setup.</param>
    /// <returns>The running member.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="handler"/> is null.</exception>
    /// <exception cref="ArgumentException">An option is invalid; the message names it.</exception>
    /// <exception cref="NatsStageConfigurationException">The layout differs from the stage's stored one.</exception>
    /// <exception cref="NatsException">The server did not answer within <see cref="NatsStageOptions{T}.StartupAttempts"/> attempts.</exception>
    public static async Task<NatsStageMember<T>> StartMemberAsync<T>(INatsConnection connection, NatsStageOptions<T> options, Func<T, NatsItemContext, CancellationToken, ValueTask> handler, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(handler);
        NatsStageRuntime<T> runtime = await NatsStageRuntime<T>.CreateAsync(connection, options, cancellationToken).ConfigureAwait(false);
        return await NatsStageMember<T>.StartAsync(runtime, handler, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Reads a distributed stage's overall accounting from the server alone: messages ever stored in its
    /// partition streams, how many are still there (not settled), how many were dead-lettered, each
    /// partition's lease holder and the live members. Needs no member, writer or item type, so a status
    /// tool (the member program's and the demo's <c>--status</c>) can ask at any time; the partition count
    /// is the one the stage stored.
    /// </summary>
    /// <param name="connection">The NATS connection (not owned).</param>
    /// <param name="stage">The distributed stage's name (<see cref="NatsStageOptions{T}.Name"/>).</param>
    /// <param name="cancellationToken">Stops reading.</param>
    /// <returns>The status; <see cref="NatsStageStatus.Drained"/> says whether every stored message was settled.</returns>
    /// <exception cref="NatsStageConfigurationException">The stage does not exist on the server.</exception>
    /// <exception cref="NatsException">The server did not answer.</exception>
    public static Task<NatsStageStatus> GetStatusAsync(INatsConnection connection, string stage, CancellationToken cancellationToken = default) =>
        NatsStageStatus.ReadAsync(connection, stage, cancellationToken);
}
