using System.Globalization;

namespace Engine.Demo;

/// <summary>The demo's command line: <c>--duration</c>, <c>--rate</c>, <c>--entities</c>, <c>--shards</c>, <c>--workers</c>, <c>--capacity</c>, <c>--report-interval</c>, <c>--seed</c>.</summary>
internal sealed record DemoOptions
{
    public const string Usage = """
        Engine demo: a state-update pipeline (ingest -> enrich -> detect -> batch -> store) under load.

        Options:
          --duration <seconds>         how long to generate load (default 15)
          --rate <items/s>             offered load; 0 = as fast as the pipeline takes it (default 2000)
          --entities <n>               distinct entities (default 2000)
          --shards <n>                 shards per stage (default 4)
          --workers <n>                workers per shard in the enrich stage (default 4)
          --capacity <n>               channel capacity per shard (default 1024)
          --report-interval <seconds>  how often to print the stage lines (default 1)
          --seed <n>                   random seed of the workload (default 42)
          --help                       this text
        """;

    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(15);

    public int Rate { get; init; } = 2000;

    public int Entities { get; init; } = 2000;

    public int Shards { get; init; } = 4;

    public int Workers { get; init; } = 4;

    public int Capacity { get; init; } = 1024;

    public TimeSpan ReportInterval { get; init; } = TimeSpan.FromSeconds(1);

    public int Seed { get; init; } = 42;

    public bool Help { get; init; }

    /// <summary>Parses the arguments.</summary>
    /// <exception cref="ArgumentException">An unknown option or a bad value, with a message naming it.</exception>
    public static DemoOptions Parse(string[] args)
    {
        var options = new DemoOptions();
        for (int i = 0; i < args.Length; i++)
        {
            string name = args[i];
            if (name is "--help" or "-h")
            {
                return options with { Help = true };
            }

            if (i + 1 >= args.Length)
            {
                throw new ArgumentException($"{name} needs a value (see --help).");
            }

            string value = args[++i];
            options = name switch
            {
                "--duration" => options with { Duration = TimeSpan.FromSeconds(Number(name, value, 0.1, 86_400)) },
                "--rate" => options with { Rate = (int)Number(name, value, 0, 10_000_000) },
                "--entities" => options with { Entities = (int)Number(name, value, 1, 10_000_000) },
                "--shards" => options with { Shards = (int)Number(name, value, 1, 4096) },
                "--workers" => options with { Workers = (int)Number(name, value, 1, 1024) },
                "--capacity" => options with { Capacity = (int)Number(name, value, 1, 1 << 24) },
                "--report-interval" => options with { ReportInterval = TimeSpan.FromSeconds(Number(name, value, 0.1, 3600)) },
                "--seed" => options with { Seed = (int)Number(name, value, int.MinValue, int.MaxValue) },
                _ => throw new ArgumentException($"unknown option {name} (see --help)."),
            };
        }

        return options;
    }

    private static double Number(string name, string value, double min, double max)
    {
        if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double number) || number < min || number > max)
        {
            throw new ArgumentException($"{name} must be a number from {min.ToString(CultureInfo.InvariantCulture)} to {max.ToString(CultureInfo.InvariantCulture)}, not '{value}'.");
        }

        return number;
    }
}
