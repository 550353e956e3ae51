using System.Diagnostics;
using System.Globalization;

namespace Engine.Demo;

/// <summary>
/// The demo's soak (<c>--soak</c>): samples the process every interval on its own timer (so a stalled
/// producer is still seen), prints one line per sample, and at the end a verdict per phase on whether
/// memory reached a plateau and how many intervals under load stalled (<see cref="SoakRules"/>).
/// </summary>
internal sealed class SoakMonitor : IAsyncDisposable
{
    private const double Megabyte = 1024 * 1024;

    /// <summary>Items the pipeline has accepted so far.</summary>
    private readonly Func<long> _ingested;

    /// <summary>The offered rate, for the stall rule.</summary>
    private readonly int _rate;

    private readonly TextWriter _output;

    /// <summary>Every sample so far; written by the sampling loop only, read once it has ended.</summary>
    private readonly List<SoakSample> _samples = [];

    private readonly CancellationTokenSource _stop = new();

    private readonly Stopwatch _clock = Stopwatch.StartNew();

    private readonly Task _sampling;

    /// <summary>The current phase: "busy" until <see cref="BeginIdle"/>.</summary>
    private volatile string _phase = "busy";

    private SoakMonitor(Func<long> ingested, TimeSpan interval, int rate, TextWriter output)
    {
        _ingested = ingested;
        _rate = rate;
        _output = output;
        _sampling = SampleAsync(interval);
    }

    /// <summary>Starts sampling every <paramref name="interval"/> in the busy phase.</summary>
    public static SoakMonitor Start(Func<long> ingested, TimeSpan interval, int rate, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(ingested);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(interval, TimeSpan.Zero);
        return new SoakMonitor(ingested, interval, rate, output);
    }

    /// <summary>The load stopped: later samples belong to the idle phase.</summary>
    public void BeginIdle() => _phase = "idle";

    /// <summary>
    /// Stops sampling and prints the verdict lines.
    /// </summary>
    /// <returns>The number of intervals under load that stalled.</returns>
    public async Task<int> FinishAsync()
    {
        await DisposeAsync().ConfigureAwait(false);
        int stalled = _samples.Skip(1).Count(IsStalled);
        bool plateau = true;
        foreach (string phase in new[] { "busy", "idle" })
        {
            SoakSample[] samples = [.. _samples.Where(s => s.Phase == phase)];
            double[] rss = [.. samples.Select(s => s.RssMegabytes)];
            double[] heap = [.. samples.Select(s => s.HeapMegabytes)];
            double[] anon = [.. samples.Where(s => s.AnonymousMegabytes is not null).Select(s => s.AnonymousMegabytes!.Value)];
            bool? flat = SoakRules.IsPlateau(rss) is { } rssFlat && SoakRules.IsPlateau(heap) is { } heapFlat ? rssFlat && heapFlat : null;
            plateau &= flat ?? false;
            _output.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"soak: phase={phase} samples={samples.Length} rss_mb={Range(rss)} rss_last_third_growth_mb={Growth(rss)} anon_mb={Range(anon)} anon_last_third_growth_mb={Growth(anon)} heap_mb={Range(heap)} heap_last_third_growth_mb={Growth(heap)} gen2={(samples.Length == 0 ? "-" : $"{samples[0].Gen2}..{samples[^1].Gen2}")} threads={(samples.Length == 0 ? "-" : $"{samples.Min(s => s.Threads)}..{samples.Max(s => s.Threads)}")} plateau={Verdict(flat)}"));
        }

        _output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"soak: plateau={(plateau ? "true" : "false")} stalled_intervals={stalled}"));
        return stalled;
    }

    /// <summary>Stops sampling (idempotent).</summary>
    public async ValueTask DisposeAsync()
    {
        if (!_stop.IsCancellationRequested)
        {
            await _stop.CancelAsync().ConfigureAwait(false);
        }

        await _sampling.ConfigureAwait(false);
        _stop.Dispose();
    }

    private async Task SampleAsync(TimeSpan interval)
    {
        using var timer = new PeriodicTimer(interval);
        long before = _ingested();
        TimeSpan previous = TimeSpan.Zero;
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false))
            {
                // One clock read per sample: the rate divides by the span it was counted over.
                TimeSpan now = _clock.Elapsed;
                long ingested = _ingested();
                double perSecond = (ingested - before) / Math.Max(1e-3, (now - previous).TotalSeconds);
                (before, previous) = (ingested, now);
                using Process self = Process.GetCurrentProcess();
                var sample = new SoakSample(_phase, now.TotalSeconds, self.WorkingSet64 / Megabyte, AnonymousMegabytes(), GC.GetGCMemoryInfo().HeapSizeBytes / Megabyte, GC.CollectionCount(2), self.Threads.Count, perSecond);
                // The first interval holds the start-up (the write path's first JIT): a slow one is not a
                // stall, and a producer stalled for good shows in every interval after it.
                bool stalled = _samples.Count > 0 && IsStalled(sample);
                _samples.Add(sample);
                _output.WriteLine(string.Create(
                    CultureInfo.InvariantCulture,
                    $"soak: phase={sample.Phase} t_s={sample.Seconds:F0} rss_mb={sample.RssMegabytes:F1} anon_mb={(sample.AnonymousMegabytes is { } anon ? anon.ToString("F1", CultureInfo.InvariantCulture) : "-")} heap_mb={sample.HeapMegabytes:F1} gen2={sample.Gen2} threads={sample.Threads} ingest_per_s={perSecond:F1}{(stalled ? " STALLED" : string.Empty)}"));
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            // Finished.
        }
    }

    /// <summary>
    /// RssAnon from /proc/self/status, MB, or null off Linux. The resident set also counts mapped files
    /// (the runtime's and the assemblies' pages, which come and go with the page cache and the code
    /// paths run) and the JIT's shared executable mapping; the anonymous part is what a leak would grow.
    /// </summary>
    private static double? AnonymousMegabytes()
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith("RssAnon:", StringComparison.Ordinal)
                    && long.TryParse(line.AsSpan(8).Trim().TrimEnd("kB").Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out long kilobytes))
                {
                    return kilobytes * 1024 / Megabyte;
                }
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return null;
    }

    private bool IsStalled(SoakSample sample) => sample.Phase == "busy" && SoakRules.IsStalled(sample.IngestPerSecond, _rate);

    private static string Range(double[] values) => values.Length == 0 ? "-" : string.Create(CultureInfo.InvariantCulture, $"{values[0]:F1}..{values.Max():F1}..{values[^1]:F1}");

    private static string Growth(double[] values) => SoakRules.LastThirdGrowth(values) is { } growth ? growth.ToString("F1", CultureInfo.InvariantCulture) : "-";

    private static string Verdict(bool? flat) => flat switch { true => "true", false => "false", null => "unknown" };
}
