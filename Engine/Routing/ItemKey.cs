using System.Buffers.Binary;
using System.Diagnostics;

namespace Engine.Routing;

/// <summary>
/// The key that routes an item to its shard and orders it: items with equal keys are handled one at a
/// time, in the order they were accepted. A default (<see cref="None"/>) key sends the item to the
/// stage's unkeyed shard.
/// </summary>
/// <remarks>
/// A key is a small value (no allocation for strings, integers, GUIDs or up to 16 bytes) that carries
/// its FNV-1a hash, computed once when the key is made. String keys hash their UTF-8 bytes; integer
/// keys hash their 8 little-endian bytes; GUID keys hash the 16 bytes of
/// <see cref="Guid.TryWriteBytes(Span{byte})"/>; byte keys hash the bytes as given. Keys of different
/// kinds are never equal, even when their bytes are.
/// </remarks>
[DebuggerDisplay("{ToString(),nq}")]
public readonly struct ItemKey : IEquatable<ItemKey>
{
    private const int InlineBytes = 16;

    /// <summary>The string, or the copied bytes of a long byte key; null otherwise.</summary>
    private readonly object? _reference;

    /// <summary>First 8 inline bytes (integer value, GUID or short byte key).</summary>
    private readonly ulong _low;

    /// <summary>Last 8 inline bytes.</summary>
    private readonly ulong _high;

    private readonly uint _hash;
    private readonly KeyKind _kind;
    private readonly byte _length;

    private ItemKey(KeyKind kind, uint hash, object? reference, ulong low, ulong high, int length)
    {
        _kind = kind;
        _hash = hash;
        _reference = reference;
        _low = low;
        _high = high;
        _length = (byte)length;
    }

    private enum KeyKind : byte
    {
        None = 0,
        Text,
        Int64,
        Guid,
        Bytes,
    }

    /// <summary>No key: the item goes to the unkeyed shard and carries no ordering promise.</summary>
    public static ItemKey None => default;

    /// <summary>Whether this is <see cref="None"/>.</summary>
    public bool IsNone => _kind == KeyKind.None;

    /// <summary>The key's FNV-1a hash (over its bytes as described on the type); 0 for <see cref="None"/>.</summary>
    public uint Hash => _hash;

    /// <summary>A key from text; a null or empty string gives <see cref="None"/>.</summary>
    /// <param name="text">The key text.</param>
    /// <returns>The key.</returns>
    public static ItemKey FromString(string? text) =>
        string.IsNullOrEmpty(text) ? default : new ItemKey(KeyKind.Text, Fnv1a.Hash32(text), text, 0, 0, 0);

    /// <summary>A key from a 64-bit integer.</summary>
    /// <param name="value">The key value.</param>
    /// <returns>The key.</returns>
    public static ItemKey FromInt64(long value)
    {
        Span<byte> bytes = stackalloc byte[sizeof(long)];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, value);
        return new ItemKey(KeyKind.Int64, Fnv1a.Hash32(bytes), null, (ulong)value, 0, sizeof(long));
    }

    /// <summary>A key from a GUID; <see cref="Guid.Empty"/> is a key like any other.</summary>
    /// <param name="value">The key value.</param>
    /// <returns>The key.</returns>
    public static ItemKey FromGuid(Guid value)
    {
        Span<byte> bytes = stackalloc byte[InlineBytes];
        value.TryWriteBytes(bytes);
        return new ItemKey(
            KeyKind.Guid,
            Fnv1a.Hash32(bytes),
            null,
            BinaryPrimitives.ReadUInt64LittleEndian(bytes),
            BinaryPrimitives.ReadUInt64LittleEndian(bytes[8..]),
            InlineBytes);
    }

    /// <summary>
    /// A key from raw bytes, for composite or binary keys. Up to 16 bytes are held inline; longer keys
    /// are copied once into an array. No bytes gives <see cref="None"/>.
    /// </summary>
    /// <param name="bytes">The key bytes; they are copied, so the span may be reused.</param>
    /// <returns>The key.</returns>
    public static ItemKey FromBytes(ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty)
        {
            return default;
        }

        uint hash = Fnv1a.Hash32(bytes);
        if (bytes.Length > InlineBytes)
        {
            return new ItemKey(KeyKind.Bytes, hash, bytes.ToArray(), 0, 0, 0);
        }

        Span<byte> inline = stackalloc byte[InlineBytes];
        inline.Clear();
        bytes.CopyTo(inline);
        return new ItemKey(
            KeyKind.Bytes,
            hash,
            null,
            BinaryPrimitives.ReadUInt64LittleEndian(inline),
            BinaryPrimitives.ReadUInt64LittleEndian(inline[8..]),
            bytes.Length);
    }

    /// <summary>A key from text; a null or empty string gives <see cref="None"/>.</summary>
    /// <param name="text">The key text.</param>
    public static implicit operator ItemKey(string? text) => FromString(text);

    /// <summary>A key from a 64-bit integer.</summary>
    /// <param name="value">The key value.</param>
    public static implicit operator ItemKey(long value) => FromInt64(value);

    /// <summary>A key from a GUID.</summary>
    /// <param name="value">The key value.</param>
    public static implicit operator ItemKey(Guid value) => FromGuid(value);

    /// <summary>Whether two keys are equal.</summary>
    /// <param name="left">A key.</param>
    /// <param name="right">Another key.</param>
    public static bool operator ==(ItemKey left, ItemKey right) => left.Equals(right);

    /// <summary>Whether two keys differ.</summary>
    /// <param name="left">A key.</param>
    /// <param name="right">Another key.</param>
    public static bool operator !=(ItemKey left, ItemKey right) => !left.Equals(right);

    /// <summary>Keys are equal when they have the same kind and the same value (strings compare ordinally).</summary>
    /// <param name="other">The other key.</param>
    /// <returns>Whether the keys are equal.</returns>
    public bool Equals(ItemKey other)
    {
        if (_kind != other._kind || _hash != other._hash || _length != other._length || _low != other._low || _high != other._high)
        {
            return false;
        }

        return _reference switch
        {
            null => other._reference is null,
            string text => other._reference is string otherText && string.Equals(text, otherText, StringComparison.Ordinal),
            byte[] bytes => other._reference is byte[] otherBytes && bytes.AsSpan().SequenceEqual(otherBytes),
            _ => false,
        };
    }

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is ItemKey other && Equals(other);

    /// <summary>The FNV-1a hash, which is already well mixed.</summary>
    /// <returns>The hash code.</returns>
    public override int GetHashCode() => (int)_hash;

    /// <summary>A readable form for logs and the debugger: the text, the number, the GUID or the bytes in hex.</summary>
    /// <returns>The key as text; <c>(none)</c> for <see cref="None"/>.</returns>
    public override string ToString() => _kind switch
    {
        KeyKind.None => "(none)",
        KeyKind.Text => (string)_reference!,
        KeyKind.Int64 => ((long)_low).ToString(System.Globalization.CultureInfo.InvariantCulture),
        KeyKind.Guid => ToGuid().ToString(),
        _ => Convert.ToHexString(_reference is byte[] bytes ? bytes : InlineBytesCopy()),
    };

    private Guid ToGuid()
    {
        Span<byte> bytes = stackalloc byte[InlineBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, _low);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes[8..], _high);
        return new Guid(bytes);
    }

    private byte[] InlineBytesCopy()
    {
        var bytes = new byte[InlineBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, _low);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(8), _high);
        return bytes[.._length];
    }
}
