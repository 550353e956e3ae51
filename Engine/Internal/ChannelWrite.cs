using System.Runtime.CompilerServices;
using System.Threading.Channels;

namespace Engine.Internal;

/// <summary>
/// Writes to a bounded channel for writers that wait for room with a token that may be cancelled,
/// without the channel's cancellation race and without waking every waiting writer for each free slot.
/// One per channel.
/// </summary>
/// <remarks>
/// <para>
/// <c>WriteAsync(item, token)</c> on a bounded channel is not enough: a reader can take a blocked
/// writer's item after that writer's cancelled <c>WriteAsync</c> has already thrown (the writer-side
/// twin of dotnet/runtime#132094), so the exception does not prove the item stayed out. Here the token
/// only ever ends a wait (<see cref="SemaphoreSlim.WaitAsync(CancellationToken)"/>,
/// <see cref="ChannelWriter{T}.WaitToWriteAsync"/>), and the write itself is a
/// <see cref="ChannelWriter{T}.TryWrite"/> without it: when <see cref="WriteAsync{T, TState}"/> throws, the item
/// was never written.
/// </para>
/// <para>
/// Waiting writers take turns: only the writer whose turn it is waits on the channel. A channel wakes
/// all of its <c>WaitToWriteAsync</c> callers when one slot frees, so many workers forwarding into one
/// full shard would otherwise all wake, and all but one go back to sleep, for every item. The turns are
/// first come, first served; a writer that finds room at once never waits for a turn.
/// </para>
/// </remarks>
#pragma warning disable CA1001 // The semaphore's wait handle is never created, so there is nothing to dispose.
internal sealed class ChannelWrite
#pragma warning restore CA1001
{
    /// <summary>Held by the one waiting writer that waits on the channel itself.</summary>
    private readonly SemaphoreSlim _turn = new(1, 1);

    /// <summary>Writes, waiting for a turn and then for room, until the item is in or the channel completes.</summary>
    /// <returns>True when the item was written; false when the channel completed first.</returns>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> fired while waiting; the item was not written.</exception>
    /// <exception cref="ChannelClosedException">The channel was completed with an error (the inner exception); the item was not written.</exception>
    public ValueTask<bool> WriteAsync<T>(ChannelWriter<T> writer, T item, CancellationToken cancellationToken) =>
        WriteAsync(writer, item, writer, static (channel, next) => channel.TryWrite(next), cancellationToken);

    /// <summary>
    /// Writes as <see cref="WriteAsync{T}(ChannelWriter{T}, T, CancellationToken)"/> does, each attempt made by
    /// <paramref name="tryWrite"/> instead of a plain <see cref="ChannelWriter{T}.TryWrite"/>: a writer
    /// that must do more in the same step as the write (a dedupe shard registers the slot it wrote, or
    /// replaces a waiting one instead, under its own lock) does it there. An attempt is made only when the
    /// channel said it has room, and returns false when the room was gone (the wait goes on).
    /// </summary>
    /// <typeparam name="T">The channel's items.</typeparam>
    /// <typeparam name="TState">What the attempt needs besides the item (pass a static lambda: nothing is allocated).</typeparam>
    /// <returns>True when an attempt succeeded; false when the channel completed first.</returns>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> fired while waiting; the item was not written.</exception>
    /// <exception cref="ChannelClosedException">The channel was completed with an error (the inner exception); the item was not written.</exception>
    /// <remarks>What <paramref name="tryWrite"/> throws escapes as it is, after the turn is handed on.</remarks>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<bool> WriteAsync<T, TState>(ChannelWriter<T> writer, T item, TState state, Func<TState, T, bool> tryWrite, CancellationToken cancellationToken)
    {
        await _turn.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            while (true)
            {
                bool room;
                try
                {
                    room = await writer.WaitToWriteAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException and not ChannelClosedException)
                {
                    // A channel completed with an error reports it from WaitToWriteAsync as it is; its
                    // WriteAsync wrapped it, and callers tell a closed channel by that type.
                    throw new ChannelClosedException(ex);
                }

                if (!room)
                {
                    return false;
                }

                if (tryWrite(state, item))
                {
                    return true;
                }
            }
        }
        finally
        {
            _turn.Release();
        }
    }
}
