using System.Text;
using Engine.Routing;

namespace Engine.Tests.Routing;

public class Fnv1aTests
{
    [TestCase("", 0x811c9dc5u)]
    [TestCase("a", 0xe40c292cu)]
    [TestCase("foobar", 0xbf9cf968u)]
    public void Standard_vectors_hash_to_their_published_values(string text, uint expected)
    {
        Assert.Multiple(() =>
        {
            Assert.That(Fnv1a.Hash32(text), Is.EqualTo(expected));
            Assert.That(Fnv1a.Hash32(Encoding.UTF8.GetBytes(text)), Is.EqualTo(expected));
        });
    }

    [TestCase("é")]
    [TestCase("Grüße, 世界")]
    [TestCase("emoji 😀 and 𝄞")]
    [TestCase("\u0800\uffff\u07ff")]
    public void Non_ascii_text_hashes_as_its_utf8_bytes(string text)
    {
        Assert.That(Fnv1a.Hash32(text), Is.EqualTo(Fnv1a.Hash32(Encoding.UTF8.GetBytes(text))));
    }

    [Test]
    public void A_non_ascii_key_matches_a_hash_computed_by_hand_over_its_utf8_bytes()
    {
        // "é" is C3 A9 in UTF-8.
        uint expected = unchecked(((Fnv1a.OffsetBasis ^ 0xC3u) * Fnv1a.Prime ^ 0xA9u) * Fnv1a.Prime);
        Assert.That(Fnv1a.Hash32("é"), Is.EqualTo(expected));
    }

    [Test]
    public void Lone_surrogates_hash_as_the_replacement_character_like_the_utf8_encoder()
    {
        foreach (string text in new[] { "\ud800", "a\udc00b", "\ud83d", "x\ud83dy\ude00" })
        {
            Assert.That(Fnv1a.Hash32(text), Is.EqualTo(Fnv1a.Hash32(Encoding.UTF8.GetBytes(text))), text);
        }
    }

    [Test]
    public void Random_strings_hash_as_their_utf8_bytes()
    {
        var random = new Random(12345);
        for (int i = 0; i < 2000; i++)
        {
            var chars = new char[random.Next(0, 24)];
            for (int c = 0; c < chars.Length; c++)
            {
                chars[c] = (char)random.Next(0, 0x10000);
            }

            var text = new string(chars);
            Assert.That(Fnv1a.Hash32(text), Is.EqualTo(Fnv1a.Hash32(Encoding.UTF8.GetBytes(text))), "seed 12345, case " + i);
        }
    }

    [Test]
    public void Append_continues_a_hash_across_parts()
    {
        byte[] whole = Encoding.UTF8.GetBytes("foobar");
        uint hash = Fnv1a.Append(Fnv1a.Append(Fnv1a.OffsetBasis, whole.AsSpan(0, 3)), whole.AsSpan(3));
        Assert.That(hash, Is.EqualTo(0xbf9cf968u));
    }

    [Test]
    public void Hashing_a_string_does_not_allocate()
    {
        string text = "deployment/payments-api-7d9f8";
        Fnv1a.Hash32(text);
        long before = GC.GetAllocatedBytesForCurrentThread();
        uint sum = 0;
        for (int i = 0; i < 1000; i++)
        {
            sum += Fnv1a.Hash32(text);
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Multiple(() =>
        {
            Assert.That(allocated, Is.Zero);
            Assert.That(sum, Is.EqualTo(unchecked(Fnv1a.Hash32(text) * 1000u)));
        });
    }

    [Test]
    public void A_null_string_is_an_argument_error()
    {
        Assert.That(() => Fnv1a.Hash32((string)null!), Throws.ArgumentNullException);
    }
}
