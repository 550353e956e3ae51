using System.Buffers.Binary;
using System.Text;
using Engine.Routing;

namespace Engine.Tests.Routing;

public class ItemKeyTests
{
    [Test]
    public void Null_and_empty_strings_are_no_key()
    {
        Assert.Multiple(() =>
        {
            Assert.That(((ItemKey)(string?)null).IsNone, Is.True);
            Assert.That(((ItemKey)"").IsNone, Is.True);
            Assert.That(ItemKey.FromBytes([]).IsNone, Is.True);
            Assert.That(ItemKey.None, Is.EqualTo(default(ItemKey)));
        });
    }

    [Test]
    public void A_string_key_carries_the_fnv_hash_of_its_utf8_bytes()
    {
        Assert.That(((ItemKey)"foobar").Hash, Is.EqualTo(0xbf9cf968u));
    }

    [Test]
    public void A_long_key_hashes_its_little_endian_bytes()
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, 1234567890123L);
        Assert.That(((ItemKey)1234567890123L).Hash, Is.EqualTo(Fnv1a.Hash32(bytes)));
    }

    [Test]
    public void A_guid_key_hashes_its_bytes_and_round_trips_to_text()
    {
        var guid = Guid.Parse("0f8fad5b-d9cb-469f-a165-70867728950e");
        ItemKey key = guid;
        Assert.Multiple(() =>
        {
            Assert.That(key.Hash, Is.EqualTo(Fnv1a.Hash32(guid.ToByteArray())));
            Assert.That(key.ToString(), Is.EqualTo(guid.ToString()));
        });
    }

    [Test]
    public void Byte_keys_of_any_length_compare_by_value()
    {
        byte[] shortKey = Encoding.UTF8.GetBytes("short");
        byte[] longKey = Encoding.UTF8.GetBytes("a key longer than sixteen bytes");
        Assert.Multiple(() =>
        {
            Assert.That(ItemKey.FromBytes(shortKey), Is.EqualTo(ItemKey.FromBytes(shortKey.ToArray())));
            Assert.That(ItemKey.FromBytes(longKey), Is.EqualTo(ItemKey.FromBytes(longKey.ToArray())));
            Assert.That(ItemKey.FromBytes(longKey).Hash, Is.EqualTo(Fnv1a.Hash32(longKey)));
            Assert.That(ItemKey.FromBytes(shortKey), Is.Not.EqualTo(ItemKey.FromBytes(longKey)));
            Assert.That(ItemKey.FromBytes([1, 0]), Is.Not.EqualTo(ItemKey.FromBytes([1])));
        });
    }

    [Test]
    public void Keys_of_different_kinds_are_never_equal_even_with_the_same_bytes()
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, 42);
        Assert.Multiple(() =>
        {
            Assert.That(ItemKey.FromBytes(bytes), Is.Not.EqualTo((ItemKey)42L));
            Assert.That(ItemKey.FromBytes(bytes).Hash, Is.EqualTo(((ItemKey)42L).Hash));
            Assert.That((ItemKey)"42", Is.Not.EqualTo((ItemKey)42L));
        });
    }

    [Test]
    public void Equal_string_keys_are_equal_and_hash_alike()
    {
        ItemKey a = "pod/" + 7;
        ItemKey b = "pod/7";
        Assert.Multiple(() =>
        {
            Assert.That(a == b, Is.True);
            Assert.That(a.GetHashCode(), Is.EqualTo(b.GetHashCode()));
            Assert.That(a != (ItemKey)"pod/8", Is.True);
        });
    }
}
