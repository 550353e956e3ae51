using System.Diagnostics;
using System.Runtime.CompilerServices;
using Engine.Tracing;

namespace Engine.Shards;

/// <summary>The shard's part in tracing: a handler run of an item that carries a trace context is an activity (see <see cref="EngineTracing"/>).</summary>
internal sealed partial class Shard<T>
{
    /// <summary>The run activities' name, made once, when the first traced item runs.</summary>
    private string? _activityName;

    /// <summary>Starts the activity of the handler run about to start for <paramref name="envelope"/>, which carries a trace; null when no listener samples it.</summary>
    private Activity? StartRunActivity(in Envelope<T> envelope) =>
        EngineTracing.StartRun(envelope.Trace!, _activityName ??= _runtime.Name + " process", _runtime.PipelineName, _runtime.Name, Index, envelope.Attempts);

    /// <summary>
    /// Ends a run's activity, if the run is traced, with what became of its item. Inlined, so an
    /// untraced run pays a null test and no call.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StopRunActivity(Activity? run, Settlement settled, Exception? error)
    {
        if (run is not null)
        {
            StopTracedRun(run, settled, error);
        }
    }

    private static void StopTracedRun(Activity run, Settlement settled, Exception? error) =>
        EngineTracing.StopRun(
            run,
            settled switch
            {
                Settlement.Processed => "processed",
                Settlement.Retrying => "retrying",
                Settlement.DeadLettered => "dead_lettered",
                _ => "abandoned",
            },
            error);
}
