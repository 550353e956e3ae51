using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace Engine.Tracing;

/// <summary>
/// The engine's <see cref="ActivitySource"/>, named <see cref="EngineTelemetry.ActivitySourceName"/>,
/// and what an item carries of the context it was written in. Each handler run is an activity: a child
/// of the context current at the item's write, or, for a batch, linked to every item's context.
/// </summary>
/// <remarks>
/// <para>
/// What a write carries (<see cref="Capture"/>) is an <see cref="object"/> in one field of the item's
/// envelope: null when nothing listened to the source at the write (one check per write, nothing else
/// is done then), the <see cref="Activity"/> current at the write (a reference that already exists: no
/// allocation), <see cref="NoParent"/> when a listener listened but no activity was current (the run
/// starts a trace of its own), or a <see cref="BatchTrace"/> (the links of a batch's items).
/// </para>
/// <para>
/// A run is a child of the write's context rather than linked to it: a pipeline's stages then form one
/// trace, from the activity that wrote the item (a request, a message) through every handler it passed,
/// which is what a trace viewer shows as the item's journey. A downstream stage's write happens inside
/// the upstream handler's run, so re-keying and fan-out continue that trace with no extra work. A batch
/// has many parents, which a span cannot have: its run starts a trace of its own and links to each.
/// </para>
/// </remarks>
internal static class EngineTracing
{
    /// <summary>The source every handler run's activity comes from.</summary>
    public static readonly ActivitySource Source = new(EngineTelemetry.ActivitySourceName, typeof(EngineTracing).Assembly.GetName().Version?.ToString());

    /// <summary>Carried by an item written while a listener listened but no activity was current: its runs start traces of their own.</summary>
    public static readonly object NoParent = new();

    /// <summary>Tag names on a run's activity.</summary>
    public const string PipelineTag = "engine.pipeline";

    /// <inheritdoc cref="PipelineTag"/>
    public const string StageTag = "engine.stage";

    /// <inheritdoc cref="PipelineTag"/>
    public const string ShardTag = "engine.shard";

    /// <inheritdoc cref="PipelineTag"/>
    public const string AttemptTag = "engine.attempt";

    /// <inheritdoc cref="PipelineTag"/>
    public const string OutcomeTag = "engine.outcome";

    /// <summary>
    /// What an item written now carries: null when nothing listens to <see cref="Source"/> (then
    /// nothing is carried and its runs are not traced), else the current activity or <see cref="NoParent"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static object? Capture() => Source.HasListeners() ? Activity.Current ?? NoParent : null;

    /// <summary>
    /// Starts the activity of one handler run of an item that carries <paramref name="trace"/>, and
    /// makes it current for the handler (so the handler's own activities, and the writes it makes
    /// downstream, are its children). Null when no listener samples it.
    /// </summary>
    public static Activity? StartRun(object trace, string name, string? pipeline, string stage, int shard, int attempt)
    {
        ActivityContext parent = trace is Activity activity ? activity.Context : default;
        IEnumerable<ActivityLink>? links = (trace as BatchTrace)?.Links;
        Activity? run = Source.StartActivity(name, ActivityKind.Consumer, parent, tags: null, links: links);
        if (run is { IsAllDataRequested: true })
        {
            if (pipeline is not null)
            {
                run.SetTag(PipelineTag, pipeline);
            }

            run.SetTag(StageTag, stage);
            run.SetTag(ShardTag, shard);
            run.SetTag(AttemptTag, attempt);
        }

        return run;
    }

    /// <summary>Ends a run's activity with its outcome (<c>processed</c>, <c>retrying</c>, <c>dead_lettered</c>, <c>abandoned</c>) and, if the handler threw, the error.</summary>
    public static void StopRun(Activity run, string outcome, Exception? error)
    {
        if (run.IsAllDataRequested)
        {
            run.SetTag(OutcomeTag, outcome);
            if (error is not null)
            {
                run.SetStatus(ActivityStatusCode.Error, error.Message);
                run.AddException(error);
            }
        }

        run.Dispose();
    }

    /// <summary>
    /// What a batch carries: a link to the context of each of its items that carried one, or null
    /// when none did (nothing listened while they were written).
    /// </summary>
    public static object? ForBatch(List<object?>? traces)
    {
        if (traces is null)
        {
            return null;
        }

        var links = new List<ActivityLink>(traces.Count);
        foreach (object? trace in traces)
        {
            if (trace is Activity activity)
            {
                links.Add(new ActivityLink(activity.Context));
            }
        }

        return new BatchTrace(links);
    }
}
