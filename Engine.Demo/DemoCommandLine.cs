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
    private readonly Option<bool> _soak = new("--soak") { Description = "a soak: --duration of load at --rate, then --idle without it, printing the process's memory, GC heap, gen-2 count, threads and throughput every --report-interval and a verdict on whether memory reached a plateau; exit code 4 when an interval under load stalled (docs/soak.md)" };
    private readonly Option<double> _idle = Number<double>("--idle", "with --soak: how long to stay idle after the load, seconds [default: --duration]", 0, 0, 86_400);
    private readonly Option<bool> _noLive = new("--no-live") { Description = "plain periodic lines instead of the redrawn view (the default when stdout is not a terminal)" };
    private readonly Option<string?> _influx = new("--influx") { Description = "also report to this InfluxDB server, e.g. http://127.0.0.1:8086", HelpName = "url" };
    private readonly Option<string?> _influxDb = new("--influx-db") { Description = "InfluxDB 1.x database (created if missing)", HelpName = "name" };
    private readonly Option<string?> _influxOrg = new("--influx-org") { Description = "InfluxDB 2.x organisation", HelpName = "org" };
    private readonly Option<string?> _influxBucket = new("--influx-bucket") { Description = "InfluxDB 2.x bucket", HelpName = "bucket" };
    private readonly Option<string?> _influxToken = new("--influx-token") { Description = "InfluxDB 2.x API token", HelpName = "token" };
    private readonly Option<bool> _requireDelivery = new("--require-delivery") { Description = "with --influx: exit with code 3 when any point never made it into InfluxDB (abandoned at stop, dropped or rejected)" };
    private readonly Option<string?> _nats = new("--nats") { Description = "run as part of one distributed stage on this NATS JetStream server (nats-server -js), e.g. nats://127.0.0.1:4222; with --member, --produce or --status", HelpName = "url" };
    private readonly Option<string?> _member = new("--member") { Description = "with --nats: be the member of this name, owning its share of the partitions until Ctrl+C or SIGTERM", HelpName = "name" };
    private readonly Option<bool> _produce = new("--produce") { Description = "with --nats: write the demo's workload (--duration, --rate, --entities, --seed) to the distributed stage, awaiting every PubAck" };
    private readonly Option<bool> _status = new("--status") { Description = "with --nats: print the stage's overall accounting from the server; conserved=true (exit code 0) when every stored item was settled" };
    private readonly Option<string> _stage = new("--stage") { Description = "with --nats: the distributed stage's name (its streams and buckets)", DefaultValueFactory = _ => "demo", HelpName = "name" };
    private readonly Option<int> _partitions = Number("--partitions", "with --nats: partitions of the distributed stage (fixed; the same for every member and producer)", 16, 1, 1024);
    private readonly Option<double> _leaseTtl = Number<double>("--lease-ttl", "with --nats: partition lease time, seconds (a killed member's partitions are taken over after about this); the same for every member and producer", 3, 0.5, 300);

    public DemoCommandLine()
    {
        // --idle defaults to --duration, which help cannot print as a number.
        _idle.DefaultValueFactory = null;
        Root = new RootCommand("Engine demo: a state-update pipeline (ingest -> enrich -> detect -> batch -> store) under load, with live figures.")
        {
            _duration, _rate, _entities, _shards, _workers, _capacity, _reportInterval, _influx, _influxDb, _influxOrg, _influxBucket, _influxToken, _requireDelivery, _noLive, _seed, _soak, _idle,
            _nats, _member, _produce, _status, _stage, _partitions, _leaseTtl,
        };
        Root.Validators.Add(ValidateInflux);
        Root.Validators.Add(ValidateNats);
        Root.Validators.Add(ValidateSoak);
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
        Soak = parsed.GetValue(_soak),
        Idle = TimeSpan.FromSeconds(parsed.GetResult(_idle) is { Implicit: false } ? parsed.GetValue(_idle) : parsed.GetValue(_duration)),
        Nats = parsed.GetValue(_nats),
        Member = parsed.GetValue(_member),
        Produce = parsed.GetValue(_produce),
        Status = parsed.GetValue(_status),
        Stage = parsed.GetValue(_stage) ?? "demo",
        Partitions = parsed.GetValue(_partitions),
        LeaseTtl = TimeSpan.FromSeconds(parsed.GetValue(_leaseTtl)),
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

    private void ValidateNats(CommandResult result)
    {
        // Options given on the command line (not defaulted) that only mean something with --nats.
        bool Given(Option option) => result.GetResult(option) is { Implicit: false };
        string? url = result.GetValue(_nats);
        string[] modes = [.. new (Option Option, string Name)[] { (_member, "--member"), (_produce, "--produce"), (_status, "--status") }.Where(m => Given(m.Option)).Select(m => m.Name)];
        if (url is null)
        {
            string? stray = new (Option Option, string Name)[] { (_member, "--member"), (_produce, "--produce"), (_status, "--status"), (_stage, "--stage"), (_partitions, "--partitions"), (_leaseTtl, "--lease-ttl") }
                .Where(o => Given(o.Option)).Select(o => o.Name).FirstOrDefault();
            if (stray is not null)
            {
                result.AddError($"{stray} needs --nats <url>.");
            }

            return;
        }

        if (!Uri.TryCreate(url, UriKind.Absolute, out Uri? uri) || uri.Scheme is not ("nats" or "tls") || string.IsNullOrEmpty(uri.Host))
        {
            result.AddError($"--nats must be a nats:// URL such as nats://127.0.0.1:4222, not '{url}'.");
        }
        else if (modes.Length != 1)
        {
            result.AddError(modes.Length == 0
                ? "--nats needs one of --member <name>, --produce or --status."
                : $"--member, --produce and --status are exclusive, not {string.Join(" with ", modes)}.");
        }
        else if (result.GetValue(_member) is { } member && !IsName(member, 128, allowEquals: true))
        {
            result.AddError($"--member must be 1 to 128 letters, digits, '-', '_' or '=', not '{member}'.");
        }
        else if (result.GetValue(_stage) is { } stage && !IsName(stage, 32, allowEquals: false))
        {
            result.AddError($"--stage must be 1 to 32 letters, digits, '-' or '_', not '{stage}'.");
        }
        else if (result.GetValue(_influx) is not null)
        {
            result.AddError("--influx is not supported with --nats yet: the reporters do not take the partition figures (see docs/scale-out.md).");
        }
        else if (Given(_status) && (Given(_leaseTtl) || Given(_partitions)))
        {
            result.AddError("--status reads the partition count from the server and takes no --lease-ttl or --partitions.");
        }
    }

    private void ValidateSoak(CommandResult result)
    {
        if (result.GetResult(_idle) is { Implicit: false } && !result.GetValue(_soak))
        {
            result.AddError("--idle needs --soak.");
        }
        else if (result.GetValue(_soak) && result.GetValue(_nats) is not null)
        {
            result.AddError("--soak runs the in-process demo and takes no --nats.");
        }
    }

    private static bool IsName(string text, int maxLength, bool allowEquals) =>
        text.Length is > 0 && text.Length <= maxLength && text.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' || (allowEquals && c == '='));
}
