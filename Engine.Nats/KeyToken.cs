using System.Buffers.Text;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Engine.Routing;

namespace Engine.Nats;

/// <summary>
/// Encodes an <see cref="ItemKey"/> into one NATS subject token, and back.
/// </summary>
/// <remarks>
/// A text key that is already a safe token is used as it is, so the server's <c>partition()</c> mapping
/// (FNV-1a over the token's bytes) agrees with the engine for outside producers. Everything else gets
/// a prefix that no raw token may start with: <c>~s</c> + base64url of the UTF-16 code units (exact even for a lone surrogate; text with
/// dots, wildcards, spaces or control characters, or starting with <c>~</c>), <c>~i</c> + the decimal
/// of an integer key, <c>~g</c> + the 32 hex digits of a GUID, <c>~x</c> + the hex of a byte key. Those
/// tokens do not hash to the key's partition on the server, which is why the engine always computes the
/// partition itself (<c>Fnv1a(key) % N</c>) and never relies on the server mapping for its own writes.
/// ItemKey exposes no kind, so the kind is recovered from its documented <see cref="ItemKey.ToString"/>
/// forms and checked by equality (keys of different kinds are never equal).
/// </remarks>
internal static class KeyToken
{
    /// <summary>The longest token accepted, in UTF-8 bytes; the default NATS control line is 4 KiB.</summary>
    public const int MaxTokenBytes = 1024;

    private const char Escape = '~';

    /// <summary>The token for <paramref name="key"/>.</summary>
    /// <exception cref="ArgumentException">The key is <see cref="ItemKey.None"/> or its token would be longer than <see cref="MaxTokenBytes"/>.</exception>
    public static string Encode(ItemKey key)
    {
        if (key.IsNone)
        {
            throw new ArgumentException("An unkeyed item has no key token.", nameof(key));
        }

        string text = key.ToString();
        string token;
        if (key == ItemKey.FromString(text))
        {
            token = IsSafeRaw(text) ? text : "~s" + Base64Url.EncodeToString(MemoryMarshal.AsBytes(text.AsSpan()));
        }
        else if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long number) && key == ItemKey.FromInt64(number))
        {
            token = "~i" + text;
        }
        else if (Guid.TryParseExact(text, "D", out Guid guid) && key == ItemKey.FromGuid(guid))
        {
            token = "~g" + guid.ToString("N");
        }
        else
        {
            Debug.Assert(key == ItemKey.FromBytes(Convert.FromHexString(text)), "the remaining kind is bytes, shown in hex");
            token = "~x" + text;
        }

        if (Encoding.UTF8.GetByteCount(token) > MaxTokenBytes)
        {
            throw new ArgumentException($"The key's subject token would be longer than {MaxTokenBytes} bytes; use a shorter key (or its hash as bytes).", nameof(key));
        }

        Debug.Assert(Decode(token) == key, "a token decodes to the key it was made from");
        return token;
    }

    /// <summary>The key a token stands for (the inverse of <see cref="Encode"/>).</summary>
    /// <exception cref="FormatException">The token was not made by <see cref="Encode"/>.</exception>
    public static ItemKey Decode(string token)
    {
        ArgumentException.ThrowIfNullOrEmpty(token);
        if (token[0] != Escape)
        {
            return ItemKey.FromString(token);
        }

        if (token.Length < 2)
        {
            throw new FormatException($"'{token}' is not a key token.");
        }

        string body = token[2..];
        return token[1] switch
        {
            's' => ItemKey.FromString(new string(MemoryMarshal.Cast<byte, char>(Base64Url.DecodeFromChars(body)))),
            'i' => ItemKey.FromInt64(long.Parse(body, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture)),
            'g' => ItemKey.FromGuid(Guid.ParseExact(body, "N")),
            'x' => ItemKey.FromBytes(Convert.FromHexString(body)),
            _ => throw new FormatException($"'{token}' is not a key token."),
        };
    }

    /// <summary>
    /// Whether text can stand as a token unchanged: no separator or wildcard, no whitespace or control
    /// character (they end a subject on the wire), no lone surrogate (it has no UTF-8 form, so the
    /// server would hash U+FFFD's bytes while the token carries something else), and no leading escape.
    /// </summary>
    public static bool IsSafeRaw(string text)
    {
        if (text.Length == 0 || text[0] == Escape || text.Length > MaxTokenBytes)
        {
            return false;
        }

        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c is '.' or '*' or '>' || c <= ' ' || c == '\u007f' || char.IsWhiteSpace(c) || char.IsControl(c))
            {
                return false;
            }

            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(c))
            {
                return false;
            }
        }

        return true;
    }
}
