using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Numerics;

namespace Engine.Demo;

/// <summary>
/// The demo's command line (System.CommandLine): every option with its default and bounds, checked at
/// parse time so a bad argument becomes one line naming the option.
/// </summary>
internal sealed class DemoCommandLine
{
    private readonly Option<double> _duration = Number<double>("--duration", "how long to generate load, seconds", 15, 0.1, 86_400);
    private readonly Option<int> _rate = Number("--rate", "offered load, items/s; 0 = as fast as the pipeline takes them", 2000, 0, 10_000_000);
    private readonly Option<int> _entities = Number("--entities", "distinct entities", 2000, 1, 10_000_000);
    private readonly Option<int> _shards = Number("--shards", "shards per stage", 4, 1, 4096);
    private readonly Option<int> _workers = Number("--workers", "workers per shard in the enrich stage", 4, 1, 1024);
    private readonly Option<int> _capacity = Number("--capacity", "channel capacity per shard", 1024, 1, 1 << 24);
    private readonly Option<double> _reportInterval = Number<double>("--report-interval", "how often the view is refreshed, seconds", 1, 0.1, 3600);
    private readonly Option<int> _seed = Number("--seed", "random seed of the workload", 42, int.MinValue, int.MaxValue);
    private readonly Option<bool> _noLive = new("--no-live") { Description = "plain periodic lines instead of the redrawn view (the default when stdout is not a terminal)" };
    private readonly Option<string?> _influx = new("--influx") { Description = "also report to this InfluxDB server, e.g. http://127.0.0.1:8086", HelpName = "url" };
    private readonly Option<string?> _influxDb = new("--influx-db") { Description = "InfluxDB 1.x database (created if missing)", HelpName = "name" };
    private readonly Option<string?> _influxOrg = new("--influx-org") { Description = "InfluxDB 2.x organisation", HelpName = "org" };
    private readonly Option<string?> _influxBucket = new("--influx-bucket") { Description = "InfluxDB 2.x bucket", HelpName = "bucket" };
    private readonly Option<string?> _influxToken = new("--influx-token") { Description = "InfluxDB 2.x API token", HelpName = "token" };
    private readonly Option<bool> _requireDelivery = new("--require-delivery") { Description = "with --influx: exit with code 3 when any point never made it into InfluxDB (abandoned at stop, dropped or rejected)" };

    public DemoCommandLine()
    {
        Root = new RootCommand("Engine demo: a state-update pipeline (ingest -> enrich -> detect -> batch -> store) under load, with live figures.")
        {
            _duration, _rate, _entities, _shards, _workers, _capacity, _reportInterval, _influx, _influxDb, _influxOrg, _influxBucket, _influxToken, _requireDelivery, _noLive, _seed,
        };
        Root.Validators.Add(ValidateInflux);
    }

    public RootCommand Root { get; }

    /// <summary>The settings of a parse without errors.</summary>
    public DemoOptions Read(ParseResult parsed) => new()
    {
        Duration = TimeSpan.FromSeconds(parsed.GetValue(_duration)),
        Rate = parsed.GetValue(_rate),
        Entities = parsed.GetValue(_entities),
        Shards = parsed.GetValue(_shards),
        Workers = parsed.GetValue(_workers),
        Capacity = parsed.GetValue(_capacity),
        ReportInterval = TimeSpan.FromSeconds(parsed.GetValue(_reportInterval)),
        Seed = parsed.GetValue(_seed),
        NoLive = parsed.GetValue(_noLive),
        Influx = parsed.GetValue(_influx),
        InfluxDatabase = parsed.GetValue(_influxDb),
        InfluxOrganization = parsed.GetValue(_influxOrg),
        InfluxBucket = parsed.GetValue(_influxBucket),
        InfluxToken = parsed.GetValue(_influxToken),
        RequireDelivery = parsed.GetValue(_requireDelivery),
    };

    private static Option<int> Number(string name, string description, int defaultValue, int min, int max) => Number<int>(name, description, defaultValue, min, max);

    private static Option<T> Number<T>(string name, string description, T defaultValue, T min, T max)
        where T : struct, INumber<T>
    {
        var option = new Option<T>(name)
        {
            // System.CommandLine prints "[default: …]" itself from DefaultValueFactory; saying it in the description too printed it twice.
            Description = description,
            DefaultValueFactory = _ => defaultValue,
            HelpName = "n",
        };
        option.CustomParser = result =>
        {
            string text = result.Tokens.Count == 1 ? result.Tokens[0].Value : string.Empty;
            if (T.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out T value) && value.CompareTo(min) >= 0 && value.CompareTo(max) <= 0)
            {
                return value;
            }

            result.AddError($"{name} must be a number from {min.ToString(null, CultureInfo.InvariantCulture)} to {max.ToString(null, CultureInfo.InvariantCulture)}, not '{text}'.");
            return defaultValue;
        };
        return option;
    }

    private void ValidateInflux(CommandResult result)
    {
        string? url = result.GetValue(_influx);
        bool v1 = result.GetValue(_influxDb) is not null;
        bool v2 = result.GetValue(_influxOrg) is not null || result.GetValue(_influxBucket) is not null || result.GetValue(_influxToken) is not null;
        if (url is null)
        {
            if (v1 || v2)
            {
                result.AddError("--influx-db, --influx-org, --influx-bucket and --influx-token need --influx <url>.");
            }
            else if (result.GetValue(_requireDelivery))
            {
                result.AddError("--require-delivery needs --influx <url>.");
            }

            return;
        }

        if (!Uri.TryCreate(url, UriKind.Absolute, out Uri? uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            result.AddError($"--influx must be an absolute http or https URL such as http://127.0.0.1:8086, not '{url}'.");
        }
        else if (v1 == v2)
        {
            result.AddError("--influx needs either --influx-db (InfluxDB 1.x) or --influx-org, --influx-bucket and --influx-token (2.x).");
        }
        else if (v2 && (result.GetValue(_influxOrg) is null || result.GetValue(_influxBucket) is null || result.GetValue(_influxToken) is null))
        {
            result.AddError("InfluxDB 2.x needs all of --influx-org, --influx-bucket and --influx-token.");
        }
    }
}
