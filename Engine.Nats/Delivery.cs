using System.Diagnostics;
using Engine.Routing;
using NATS.Client.JetStream;

namespace Engine.Nats;

/// <summary>
/// One delivered message on its way through a partition's local stage: the item, its key, and the
/// message to acknowledge once the stage settles it. Settled at most once (ack, terminate or nak).
/// </summary>
/// <typeparam name="T">The item type.</typeparam>
[DebuggerDisplay("Seq = {Sequence}, Key = {Key}, Settled = {IsSettled}")]
internal sealed class Delivery<T>
{
    /// <summary>0 until the message is settled; set once by <see cref="TrySettle"/>.</summary>
    private int _settled;

    public Delivery(T item, ItemKey key, NatsJSMsg<byte[]> message, ulong sequence, string messageId, bool redelivered)
    {
        Redelivered = redelivered;
        Item = item;
        Key = key;
        Message = message;
        Sequence = sequence;
        MessageId = messageId;
    }

    public T Item { get; }

    public ItemKey Key { get; }

    public NatsJSMsg<byte[]> Message { get; }

    public ulong Sequence { get; }

    public string MessageId { get; }

    /// <summary>Whether the message may have run before (see <see cref="NatsItemContext.Redelivered"/>).</summary>
    public bool Redelivered { get; }

    public bool IsSettled => Volatile.Read(ref _settled) != 0;

    /// <summary>Claims the right to settle the message; true for exactly one caller.</summary>
    public bool TrySettle() => Interlocked.Exchange(ref _settled, 1) == 0;
}
