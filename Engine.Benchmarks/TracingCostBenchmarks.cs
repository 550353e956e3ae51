using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using Engine.Tracing;

namespace Engine.Benchmarks;

/// <summary>
/// What a write pays for tracing: <see cref="EngineTracing.Capture"/>, called once per write, with
/// nothing listening to the <c>Engine</c> source (the default), and with a listener, without and with
/// an activity current at the write. The baseline carries nothing and asks nothing.
/// </summary>
[MemoryDiagnoser]
#pragma warning disable CA1001 // BenchmarkDotNet needs an unsealed class; the listener is disposed by the global cleanup.
public class TracingCostBenchmarks
#pragma warning restore CA1001
{
    private ActivityListener? _listener;
    private Activity? _current;

    [GlobalSetup(Target = nameof(CaptureWithAListener))]
    public void Listen()
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == EngineTelemetry.ActivitySourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
        };
        ActivitySource.AddActivityListener(_listener);
    }

    /// <summary>The activity stays current on the benchmark's thread: setting an async-local outside an async method keeps it for the thread.</summary>
    [GlobalSetup(Target = nameof(CaptureWithNothingListeningInsideAnActivity))]
    public void StartAnActivity() => _current = new Activity("request").Start();

    [GlobalSetup(Target = nameof(CaptureWithAListenerInsideAnActivity))]
    public void ListenAndStartAnActivity()
    {
        Listen();
        StartAnActivity();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _current?.Dispose();
        _listener?.Dispose();
    }

    [Benchmark(Baseline = true)]
    public object? NothingCarried() => null;

    [Benchmark]
    public object? CaptureWithNothingListening() => EngineTracing.Capture();

    [Benchmark]
    public object? CaptureWithNothingListeningInsideAnActivity() => EngineTracing.Capture();

    [Benchmark]
    public object? CaptureWithAListener() => EngineTracing.Capture();

    [Benchmark]
    public object? CaptureWithAListenerInsideAnActivity() => EngineTracing.Capture();
}
