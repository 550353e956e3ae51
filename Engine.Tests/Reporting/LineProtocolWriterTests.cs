using Engine.Reporting;

namespace Engine.Tests.Reporting;

public class LineProtocolWriterTests
{
    private static KeyValuePair<string, string?> T(string key, string? value) => new(key, value);

    private static KeyValuePair<string, object> F(string key, object value) => new(key, value);

    [Test]
    public void A_point_has_measurement_tags_in_order_typed_fields_and_a_nanosecond_timestamp()
    {
        var writer = new LineProtocolWriter();
        writer.Write(
            "engine__items_added",
            [T("pipeline", "sensor"), T("stage", "enrich"), T("shard", "3"), T("app", "demo"), T("mtype", "counter"), T("unit", "items")],
            [F("value", 1523L)],
            1700000000000000000);
        Assert.That(writer.ToString(), Is.EqualTo("engine__items_added,pipeline=sensor,stage=enrich,shard=3,app=demo,mtype=counter,unit=items value=1523i 1700000000000000000\n"));
    }

    [Test]
    public void Every_special_character_is_escaped_where_the_protocol_requires()
    {
        var writer = new LineProtocolWriter();
        writer.Write(
            "my measure,ment=x",
            [T("tag key,=", "a value, with=all")],
            [F("field key=1", "say \"hi\" \\ there"), F("ratio", 0.25)],
            1);
        Assert.That(writer.ToString(), Is.EqualTo(
            "my\\ measure\\,ment=x,tag\\ key\\,\\==a\\ value\\,\\ with\\=all field\\ key\\=1=\"say \\\"hi\\\" \\\\ there\",ratio=0.25 1\n"));
    }

    [Test]
    public void Empty_tags_are_left_out_and_non_finite_floats_skipped()
    {
        var writer = new LineProtocolWriter();
        bool written = writer.Write("m", [T("a", ""), T("b", null), T("c", "x")], [F("nan", double.NaN), F("inf", double.PositiveInfinity), F("ok", 1.5)], 7);
        bool empty = writer.Write("m", [], [F("nan", double.NaN)], 8);
        Assert.Multiple(() =>
        {
            Assert.That(written, Is.True);
            Assert.That(empty, Is.False, "a point with no writable field is not written");
            Assert.That(writer.ToString(), Is.EqualTo("m,c=x ok=1.5 7\n"));
            Assert.That(writer.Points, Is.EqualTo(1));
        });
    }

    [Test]
    public void Unicode_is_written_as_is_and_newlines_cannot_break_a_point()
    {
        var writer = new LineProtocolWriter();
        writer.Write("mesure_ü", [T("stage", "enrïch\nnext")], [F("v", 1L), F("flag", true)], 0);
        Assert.That(writer.ToString(), Is.EqualTo("mesure_ü,stage=enrïch\\ next v=1i,flag=true 0\n"));
    }

    [Test]
    public void Floats_use_the_invariant_round_trip_format()
    {
        var culture = Thread.CurrentThread.CurrentCulture;
        try
        {
            Thread.CurrentThread.CurrentCulture = new System.Globalization.CultureInfo("de-DE");
            var writer = new LineProtocolWriter();
            writer.Write("m", [], [F("v", 1234.5678), F("tiny", 1e-7)], 0);
            Assert.That(writer.ToString(), Is.EqualTo("m v=1234.5678,tiny=1E-07 0\n"));
        }
        finally
        {
            Thread.CurrentThread.CurrentCulture = culture;
        }
    }
}
