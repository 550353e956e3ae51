using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using BenchmarkDotNet.Attributes;

namespace Engine.Benchmarks;

/// <summary>
/// CPU time per item over many fresh processes, beside BenchmarkDotNet's tables: this VM settles a
/// process into one of two speeds for its whole life, so one process's figure says little. Each run is
/// a new process that checks the contender once (its global setup), warms it up with one full run and
/// then times <c>rounds</c> full runs, reporting the process's CPU time (all threads) per item.
/// </summary>
/// <remarks>
/// <c>dotnet Engine.Benchmarks.dll --cpu-per-item compare 10 KeyedShardingBenchmarks 1000000 Engine EngineRuntimeQueue TplDataflow</c>
/// runs ten processes per contender, alternating contenders so that a change in the machine's load
/// falls on all of them alike, and prints the median, min and max per contender and each median's
/// ratio to the first contender's.
/// </remarks>
internal static class CpuPerItem
{
    private const int Rounds = 3;

    public static int Run(string[] args)
    {
        if (args is ["run", var benchmark, var method, var items])
        {
            Console.WriteLine(FormattableString.Invariant($"cpu_ns_per_item={RunHere(benchmark, method, int.Parse(items, CultureInfo.InvariantCulture)):F1}"));
            return 0;
        }

        if (args.Length >= 5 && args[0] == "compare")
        {
            Compare(int.Parse(args[1], CultureInfo.InvariantCulture), args[2], args[3], args[4..]);
            return 0;
        }

        Console.Error.WriteLine("usage: --cpu-per-item run <Benchmarks> <Method> <items> | --cpu-per-item compare <processes> <Benchmarks> <items> <Method>...");
        return 2;
    }

    /// <summary>Times <see cref="Rounds"/> runs of one contender in this process, after its check and a warm-up run.</summary>
    private static double RunHere(string benchmark, string method, int items)
    {
        Type type = typeof(CpuPerItem).Assembly.GetType($"{typeof(CpuPerItem).Namespace}.{benchmark}", throwOnError: true)!;
        object instance = Activator.CreateInstance(type)!;
        type.GetProperty("Items")?.SetValue(instance, items);
        MethodInfo run = type.GetMethod(method) ?? throw new ArgumentException($"{benchmark} has no method {method}.", nameof(method));
        foreach (MethodInfo setup in type.GetMethods().Where(m => m.GetCustomAttribute<GlobalSetupAttribute>() is { } a && (a.Targets is null || a.Targets.Length == 0 || a.Targets.Contains(method))))
        {
            setup.Invoke(instance, null);
        }

        Func<Task> once = () => (Task)run.Invoke(instance, null)!;
        once().GetAwaiter().GetResult();
        TimeSpan before = Process.GetCurrentProcess().TotalProcessorTime;
        for (int round = 0; round < Rounds; round++)
        {
            once().GetAwaiter().GetResult();
        }

        TimeSpan cpu = Process.GetCurrentProcess().TotalProcessorTime - before;
        return cpu.TotalNanoseconds / ((double)items * Rounds);
    }

    /// <summary>Runs each contender in <paramref name="processes"/> fresh processes, alternating, and prints the medians.</summary>
    private static void Compare(int processes, string benchmark, string items, string[] methods)
    {
        string self = typeof(CpuPerItem).Assembly.Location;
        var figures = methods.ToDictionary(m => m, _ => new List<double>());
        for (int p = 0; p < processes; p++)
        {
            foreach (string method in methods)
            {
                var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, UseShellExecute = false };
                foreach (string arg in new[] { self, "--cpu-per-item", "run", benchmark, method, items })
                {
                    start.ArgumentList.Add(arg);
                }

                using Process child = Process.Start(start)!;
                string output = child.StandardOutput.ReadToEnd();
                child.WaitForExit();
                string? line = output.Split('\n').LastOrDefault(l => l.StartsWith("cpu_ns_per_item=", StringComparison.Ordinal));
                if (child.ExitCode != 0 || line is null)
                {
                    throw new InvalidOperationException($"{method} failed (exit {child.ExitCode}): {output}");
                }

                double value = double.Parse(line["cpu_ns_per_item=".Length..], CultureInfo.InvariantCulture);
                figures[method].Add(value);
                Console.WriteLine(FormattableString.Invariant($"process {p + 1}/{processes} {method}: {value:F1} ns CPU per item"));
            }
        }

        double first = Median(figures[methods[0]]);
        Console.WriteLine();
        Console.WriteLine($"{benchmark}, {items} items, {processes} fresh processes per contender, {Rounds} timed runs each after a warm-up run; CPU time (all threads) per item:");
        foreach (string method in methods)
        {
            List<double> values = figures[method];
            Console.WriteLine(FormattableString.Invariant($"  {method,-18} median {Median(values),8:F1} ns   min {values.Min(),8:F1}   max {values.Max(),8:F1}   median / {methods[0]}'s {Median(values) / first:F2}"));
        }
    }

    private static double Median(List<double> values)
    {
        double[] sorted = [.. values.Order()];
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
