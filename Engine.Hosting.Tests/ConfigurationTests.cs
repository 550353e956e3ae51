using RangeAttribute = System.ComponentModel.DataAnnotations.RangeAttribute;
using System.Globalization;
using System.Reflection;
using Engine.Hosting.Tests.Support;
using Engine.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Engine.Hosting.Tests;

/// <summary>
/// Every setting under <c>Engine:</c>, found by reflection over the options types (so a new setting is
/// covered without a new test): a value of the wrong type, an enum value that does not exist, a value out
/// of its range, and an unknown key in every section each fail the host's start with an error naming the
/// full key; a valid value for every setting starts it with each value bound, a pipeline's stages included.
/// </summary>
public class ConfigurationTests
{
    /// <summary>The sections under <c>Engine</c> with the options type each binds, for the host <see cref="Build"/> makes.</summary>
    private static readonly (string Path, Type Type)[] Sections =
    [
        ("Engine:Hosting", typeof(EngineHostingOptions)),
        ("Engine:Health", typeof(EngineHealthOptions)),
        ("Engine:Reporting", typeof(EngineReportingOptions)),
        ("Engine:Pipelines:orders", typeof(PipelineSettings)),
        ("Engine:Stages:work", typeof(StageSettings)),
    ];

    /// <summary>One setting: its full key and property.</summary>
    private sealed record Setting(string Key, PropertyInfo Property)
    {
        public Type Type => Nullable.GetUnderlyingType(Property.PropertyType) ?? Property.PropertyType;
    }

    /// <summary>A configuration that must fail the start, and what the error must say.</summary>
    public sealed record BadCase(string Name, (string Key, string Value)[] Settings, string[] Expected)
    {
        public override string ToString() => Name;
    }

    /// <summary>Every settable property under every section, nested sections and a pipeline's stage entry included; and each section's path.</summary>
    private static (List<Setting> Values, List<Setting> CodeOnly, List<string> Paths) Walk()
    {
        var values = new List<Setting>();
        var codeOnly = new List<Setting>();
        var paths = new List<string>();
        foreach ((string path, Type type) in Sections)
        {
            Walk(path, type, values, codeOnly, paths);
        }

        return (values, codeOnly, paths);
    }

    private static void Walk(string path, Type type, List<Setting> values, List<Setting> codeOnly, List<string> paths)
    {
        paths.Add(path);
        foreach (PropertyInfo property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            Type t = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            string key = $"{path}:{property.Name}";
            if (t.IsGenericType && t.GetGenericTypeDefinition() == typeof(Dictionary<,>))
            {
                Walk($"{key}:save", t.GetGenericArguments()[1], values, codeOnly, paths);
            }
            else if (property.SetMethod is not { IsPublic: true })
            {
                continue;
            }
            else if (t == typeof(string) || t.IsPrimitive || t == typeof(TimeSpan) || t.IsEnum)
            {
                values.Add(new Setting(key, property));
            }
            else if (t.Namespace!.StartsWith("Engine", StringComparison.Ordinal))
            {
                Walk(key, t, values, codeOnly, paths);
            }
            else
            {
                codeOnly.Add(new Setting(key, property));
            }
        }
    }

    public static IEnumerable<BadCase> BadCases()
    {
        (List<Setting> values, List<Setting> codeOnly, List<string> paths) = Walk();
        foreach (Setting setting in values)
        {
            if (setting.Type.IsEnum)
            {
                yield return new BadCase($"{setting.Key} = NoSuchValue", [(setting.Key, "NoSuchValue")], [setting.Key + ":", "'NoSuchValue'", .. Enum.GetNames(setting.Type)]);
            }
            else if (setting.Type != typeof(string))
            {
                yield return new BadCase($"{setting.Key} = many", [(setting.Key, "many")], [setting.Key + ":", "'many' is not"]);
            }

            if (setting.Property.GetCustomAttribute<RangeAttribute>() is { } range)
            {
                string outside = Outside(setting.Type, range);
                yield return new BadCase($"{setting.Key} = {outside} (out of range)", [(setting.Key, outside)], [setting.Key + ":"]);
            }
        }

        foreach (Setting setting in codeOnly)
        {
            yield return new BadCase($"{setting.Key} (code only)", [(setting.Key, "x")], [setting.Key + ": cannot be set from configuration"]);
        }

        foreach (string path in paths)
        {
            yield return new BadCase($"{path}:NoSuchSetting", [($"{path}:NoSuchSetting", "1")], [$"{path}:NoSuchSetting: unknown setting"]);
        }

        yield return new BadCase("Engine:NoSuchSection", [("Engine:NoSuchSection:Shards", "1")], ["Engine:NoSuchSection: unknown section"]);
        yield return new BadCase("Engine:Pipelines:ordrs", [("Engine:Pipelines:ordrs:DrainTimeout", "00:00:01")], ["Engine:Pipelines:ordrs: no pipeline of this name", "registered: orders"]);
        yield return new BadCase("Engine:Stages:wrok", [("Engine:Stages:wrok:Shards", "2")], ["Engine:Stages:wrok: no stage of this name", "registered: work"]);
        yield return new BadCase("a single value where a section belongs", [("Engine:Reporting:Console", "yes")], ["Engine:Reporting:Console: expects a section"]);
        yield return new BadCase("a section where a single value belongs", [("Engine:Stages:work:Shards:count", "2")], ["Engine:Stages:work:Shards: expects a single value"]);

        // The case issue 25 found: a pipeline stage's entry with a bad value used to be dropped whole, silently.
        yield return new BadCase(
            "a pipeline stage's bad enum value beside other values",
            [("Engine:Pipelines:orders:Stages:save:FullMode", "DropEverything"), ("Engine:Pipelines:orders:Stages:save:Shards", "8")],
            ["Engine:Pipelines:orders:Stages:save:FullMode: 'DropEverything' is not a StageFullMode; the allowed values are Wait, DropOldest, DropNewest, DropWrite, Reject."]);
        yield return new BadCase(
            "InfluxDB settings that do not go together",
            [("Engine:Reporting:InfluxDb:Url", "http://127.0.0.1:9/"), ("Engine:Reporting:InfluxDb:Database", "engine"), ("Engine:Reporting:InfluxDb:Bucket", "b")],
            ["Engine:Reporting:InfluxDb:Database: is for InfluxDB 1.x"]);
        yield return new BadCase("two reporters of one name", [("Engine:Reporting:Console:Name", "r"), ("Engine:Reporting:InfluxDb:Url", "http://127.0.0.1:9/"), ("Engine:Reporting:InfluxDb:Database", "engine"), ("Engine:Reporting:InfluxDb:Name", "r")], ["Engine:Reporting:InfluxDb:Name: 'r' is the console reporter's name too"]);
        yield return new BadCase("a misspelt key in a pipeline's stage", [("Engine:Pipelines:orders:Stages:save:Shard", "8")], ["Engine:Pipelines:orders:Stages:save:Shard: unknown setting; StageSettings has Shards,"]);
    }

    [TestCaseSource(nameof(BadCases))]
    public void A_mistake_fails_the_start_naming_its_key(BadCase bad)
    {
        using IHost host = Build(bad.Settings);
        Exception error = Assert.CatchAsync(() => host.StartAsync())!;
        Assert.That(error, Is.InstanceOf<OptionsValidationException>().Or.InstanceOf<AggregateException>(), error.ToString());
        string message = error is AggregateException all ? string.Join("\n", all.InnerExceptions.Select(e => e.Message)) : error.Message;
        Assert.That(bad.Expected, Is.All.Matches<string>(message.Contains), message);
    }

    [Test]
    public async Task A_valid_value_for_every_setting_binds_and_starts_the_host()
    {
        (List<Setting> values, _, _) = Walk();
        // InfluxDB 1.x: its Database and 2.x's Organization, Bucket and Token exclude each other.
        values.RemoveAll(s => s.Key.StartsWith("Engine:Reporting:InfluxDb:", StringComparison.Ordinal) && s.Property.Name is "Organization" or "Bucket" or "Token");
        (string Key, string Value)[] settings = [.. values.Select(s => (s.Key, Valid(s)))];
        using IHost host = Build(settings);

        // Start validates every section; the InfluxDB reporter it starts is never flushed (hour-long interval).
        await host.StartAsync().Within();
        PipelineSettings orders = host.Services.GetRequiredService<IOptionsMonitor<PipelineSettings>>().Get("orders");
        StageSettings work = host.Services.GetRequiredService<IOptionsMonitor<StageSettings>>().Get("work");
        EngineReportingOptions reporting = host.Services.GetRequiredService<IOptions<EngineReportingOptions>>().Value;
        Assert.Multiple(() =>
        {
            Assert.That(orders.Stages.ContainsKey("save"), "the pipeline's stage entry was bound");
            foreach ((object options, string path) in new (object, string)[] { (orders.Stages["save"], "Engine:Pipelines:orders:Stages:save"), (work, "Engine:Stages:work"), (reporting.Console!, "Engine:Reporting:Console"), (reporting.InfluxDb!, "Engine:Reporting:InfluxDb") })
            {
                foreach (Setting setting in values.Where(s => s.Key.StartsWith(path + ":", StringComparison.Ordinal) && s.Key.LastIndexOf(':') == path.Length))
                {
                    Assert.That(Format(setting.Property.GetValue(options)), Is.EqualTo(Valid(setting)).IgnoreCase, setting.Key);
                }
            }
        });
        await host.StopAsync().Within();
    }

    private static IHost Build((string Key, string Value)[] settings)
    {
        HostApplicationBuilder builder = TestHost.Builder(new ListLoggerProvider(), null, settings);
        builder.Services.AddPipeline<int>("orders", (pipeline, context) => pipeline.Sink("save", (_, _) => ValueTask.CompletedTask, context.Stage<int>()));
        builder.Services.AddStage<int>("work", (_, _) => ValueTask.CompletedTask);
        return builder.Build();
    }

    /// <summary>A value just outside <paramref name="range"/>: below its minimum where there is room, else above its maximum.</summary>
    private static string Outside(Type type, RangeAttribute range)
    {
        if (type == typeof(TimeSpan))
        {
            TimeSpan min = TimeSpan.Parse((string)range.Minimum, CultureInfo.InvariantCulture);
            return (min > TimeSpan.Zero ? TimeSpan.Zero : -TimeSpan.FromSeconds(1)).ToString("c", CultureInfo.InvariantCulture);
        }

        double minimum = Convert.ToDouble(range.Minimum, CultureInfo.InvariantCulture);
        return (minimum - 1).ToString("R", CultureInfo.InvariantCulture);
    }

    /// <summary>A value the setting takes: its range's minimum (a time span's maximum: nothing flushes or times out meanwhile), an enum's last value, a usable URL, ...</summary>
    private static string Valid(Setting setting)
    {
        if (setting.Property.GetCustomAttribute<RangeAttribute>() is { } range)
        {
            return setting.Type == typeof(TimeSpan)
                ? TimeSpan.Parse((string)range.Maximum, CultureInfo.InvariantCulture).ToString("c", CultureInfo.InvariantCulture)
                : Convert.ToInt64(range.Minimum, CultureInfo.InvariantCulture).ToString(CultureInfo.InvariantCulture);
        }

        Type t = setting.Type;
        return t.IsEnum ? Enum.GetNames(t)[^1]
            : t == typeof(bool) ? "True"
            : t == typeof(TimeSpan) ? "00:00:01"
            : t == typeof(string) && setting.Property.Name == "Url" ? "http://127.0.0.1:9/"
            : t == typeof(string) && setting.Property.Name == "Name" ? setting.Key.Split(':')[^2].ToLowerInvariant()
            : t == typeof(string) ? "x"
            : "2";
    }

    private static string? Format(object? value) => value switch
    {
        TimeSpan span => span.ToString("c", CultureInfo.InvariantCulture),
        IFormattable formattable => formattable.ToString(null, CultureInfo.InvariantCulture),
        _ => value?.ToString(),
    };
}
