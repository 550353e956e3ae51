using System.Text;
using Engine.Routing;

namespace Engine.Nats.Tests;

public class KeyTokenTests
{
    private static readonly ItemKey[] Keys =
    [
        "order-42", "a.b", "*", ">", "with space", "tab\there", "~starts-with-tilde", "naïve-ключ-鍵-😀", "line\nbreak",
        "lone\ud800surrogate", ItemKey.FromInt64(42), ItemKey.FromInt64(-7), ItemKey.FromGuid(Guid.Parse("6f9619ff-8b86-d011-b42d-00c04fc964ff")),
        ItemKey.FromBytes([1, 2, 3]), ItemKey.FromBytes(Enumerable.Range(0, 40).Select(i => (byte)i).ToArray()),
    ];

    [TestCaseSource(nameof(Keys))]
    public void Every_key_kind_becomes_one_valid_subject_token_that_decodes_back(ItemKey key)
    {
        string token = NatsStage.SubjectToken(key);

        Assert.That(token, Is.Not.Empty);
        Assert.That(token.Any(c => c is '.' or '*' or '>' || char.IsWhiteSpace(c) || char.IsControl(c)), Is.False, token);
        Assert.That(KeyToken.Decode(token), Is.EqualTo(key));
    }

    [Test]
    public void Safe_text_keys_are_their_own_token_so_the_server_mapping_agrees()
    {
        Assert.That(NatsStage.SubjectToken("order-42"), Is.EqualTo("order-42"));
        Assert.That(NatsStage.SubjectToken("naïve-ключ-鍵-😀"), Is.EqualTo("naïve-ключ-鍵-😀"));
    }

    [Test]
    public void Keys_of_different_kinds_with_the_same_text_get_different_tokens()
    {
        Assert.That(NatsStage.SubjectToken("42"), Is.Not.EqualTo(NatsStage.SubjectToken(ItemKey.FromInt64(42))));
    }

    [Test]
    public void The_partition_is_the_engines_fnv1a_of_the_key_modulo_the_partition_count()
    {
        Assert.That(NatsStage.PartitionOf("foobar", 7), Is.EqualTo((int)(0xbf9cf968u % 7)));
        Assert.That(NatsStage.PartitionOf("a", 16), Is.EqualTo((int)(Fnv1a.Hash32(Encoding.UTF8.GetBytes("a")) % 16)));
    }

    [Test]
    public void A_key_too_long_for_a_subject_is_refused_with_a_clear_error()
    {
        var error = Assert.Throws<ArgumentException>(() => NatsStage.SubjectToken(new string('x', 2000)));
        Assert.That(error!.Message, Does.Contain("longer than"));
    }
}
