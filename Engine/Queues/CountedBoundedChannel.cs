using System.Threading.Channels;

namespace Engine.Queues;

/// <summary>
/// The runtime's bounded channel (<c>Channel.CreateBounded</c>) with a count of what it accepted, for
/// the modes the <see cref="RingChannel{T}"/> does not cover (drop-oldest and drop-newest evict). A write
/// is counted before it is offered and the count taken back if the channel refuses it, so the count is
/// never short of an item a reader can see. One interlocked instruction per write, as the shard's own
/// count was before; the runtime's channel takes its lock anyway.
/// </summary>
/// <typeparam name="T">The items.</typeparam>
internal sealed class CountedBoundedChannel<T> : CountingChannel<T>
{
    private readonly Channel<T> _inner;
    private long _accepted;

    /// <summary>Creates the channel (see <see cref="Channel.CreateBounded{T}(BoundedChannelOptions, Action{T})"/>).</summary>
    /// <param name="options">The runtime channel's options.</param>
    /// <param name="itemDropped">Called when the full mode evicts an accepted item.</param>
    public CountedBoundedChannel(BoundedChannelOptions options, Action<T>? itemDropped)
    {
        _inner = Channel.CreateBounded(options, itemDropped);
        Reader = _inner.Reader;
        Writer = new CountingWriter(this);
    }

    /// <inheritdoc/>
    public override long Accepted => Volatile.Read(ref _accepted);

    /// <inheritdoc/>
    /// <remarks>The count comes before the write, and the write releases the channel's lock: no full fence after it.</remarks>
    public override bool WriteIsFenced => false;

    private bool TryWrite(T item)
    {
        Interlocked.Increment(ref _accepted);
        if (_inner.Writer.TryWrite(item))
        {
            return true;
        }

        Interlocked.Decrement(ref _accepted);
        return false;
    }

    private sealed class CountingWriter(CountedBoundedChannel<T> channel) : ChannelWriter<T>
    {
        public override bool TryComplete(Exception? error = null) => channel._inner.Writer.TryComplete(error);

        public override bool TryWrite(T item) => channel.TryWrite(item);

        public override ValueTask<bool> WaitToWriteAsync(CancellationToken cancellationToken = default) =>
            channel._inner.Writer.WaitToWriteAsync(cancellationToken);

        public override ValueTask WriteAsync(T item, CancellationToken cancellationToken = default)
        {
            if (cancellationToken.IsCancellationRequested)
            {
                return ValueTask.FromCanceled(cancellationToken);
            }

            return channel.TryWrite(item) ? default : WriteWaitingAsync(item, cancellationToken);
        }

        /// <summary>Waits for room and writes through the count; a completed channel ends it with <see cref="ChannelClosedException"/>.</summary>
        private async ValueTask WriteWaitingAsync(T item, CancellationToken cancellationToken)
        {
            while (await channel._inner.Writer.WaitToWriteAsync(cancellationToken).ConfigureAwait(false))
            {
                if (channel.TryWrite(item))
                {
                    return;
                }
            }

            throw new ChannelClosedException();
        }
    }
}
