using System.Runtime.CompilerServices;

namespace Engine.Routing;

/// <summary>
/// The 32-bit FNV-1a hash, used to route an item's key to a shard.
/// </summary>
/// <remarks>
/// Strings are hashed over their UTF-8 bytes, which is what NATS' <c>partition(n, …)</c> subject
/// mapping computes, so an in-process shard and a JetStream partition agree on which one owns a key.
/// The string overload encodes as it goes and never allocates; invalid UTF-16 (a lone surrogate)
/// hashes as U+FFFD, exactly as <see cref="System.Text.Encoding.UTF8"/> would encode it.
/// </remarks>
public static class Fnv1a
{
    /// <summary>The FNV-1a 32-bit offset basis: the hash of no bytes.</summary>
    public const uint OffsetBasis = 2166136261;

    /// <summary>The FNV 32-bit prime.</summary>
    public const uint Prime = 16777619;

    /// <summary>Hashes <paramref name="data"/>.</summary>
    /// <param name="data">The bytes to hash; may be empty.</param>
    /// <returns>The FNV-1a hash; <see cref="OffsetBasis"/> for no bytes.</returns>
    public static uint Hash32(ReadOnlySpan<byte> data) => Append(OffsetBasis, data);

    /// <summary>Continues a hash over more bytes, so a key made of several parts needs no buffer.</summary>
    /// <param name="hash">A hash so far (start from <see cref="OffsetBasis"/>).</param>
    /// <param name="data">The next bytes.</param>
    /// <returns>The hash of everything hashed so far followed by <paramref name="data"/>.</returns>
    public static uint Append(uint hash, ReadOnlySpan<byte> data)
    {
        foreach (byte b in data)
        {
            hash = Step(hash, b);
        }

        return hash;
    }

    /// <summary>Hashes the UTF-8 encoding of <paramref name="text"/> without allocating.</summary>
    /// <param name="text">The text to hash.</param>
    /// <returns>The FNV-1a hash of the text's UTF-8 bytes.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="text"/> is null.</exception>
    public static uint Hash32(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return Hash32(text.AsSpan());
    }

    /// <summary>Hashes the UTF-8 encoding of <paramref name="text"/> without allocating.</summary>
    /// <param name="text">The characters to hash.</param>
    /// <returns>The FNV-1a hash of the characters' UTF-8 bytes.</returns>
    public static uint Hash32(ReadOnlySpan<char> text)
    {
        uint hash = OffsetBasis;
        for (int i = 0; i < text.Length; i++)
        {
            uint c = text[i];
            if (c < 0x80)
            {
                hash = Step(hash, c);
            }
            else if (c < 0x800)
            {
                hash = Step(hash, 0xC0 | (c >> 6));
                hash = Step(hash, 0x80 | (c & 0x3F));
            }
            else if (char.IsHighSurrogate((char)c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                uint scalar = (uint)char.ConvertToUtf32((char)c, text[++i]);
                hash = Step(hash, 0xF0 | (scalar >> 18));
                hash = Step(hash, 0x80 | ((scalar >> 12) & 0x3F));
                hash = Step(hash, 0x80 | ((scalar >> 6) & 0x3F));
                hash = Step(hash, 0x80 | (scalar & 0x3F));
            }
            else
            {
                // A lone surrogate is not a scalar value; UTF-8 encoders replace it with U+FFFD.
                if (char.IsSurrogate((char)c))
                {
                    c = 0xFFFD;
                }

                hash = Step(hash, 0xE0 | (c >> 12));
                hash = Step(hash, 0x80 | ((c >> 6) & 0x3F));
                hash = Step(hash, 0x80 | (c & 0x3F));
            }
        }

        return hash;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Step(uint hash, uint value) => (hash ^ value) * Prime;
}
