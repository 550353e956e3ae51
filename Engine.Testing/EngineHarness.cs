using System.Diagnostics;
using System.Globalization;
using System.Text;
using Engine.Inspection;
using Engine.Loops;
using Engine.Pipelines;
using Engine.Stages;

namespace Engine.Testing;

/// <summary>
/// Runs Engine pipelines, stages and loops on virtual time, deterministically: build them on
/// <see cref="Clock"/> (or with <see cref="Pipeline{T}"/>, <see cref="Stage{T}(StageOptions{T}, Func{T, CancellationToken, ValueTask})"/>,
/// <see cref="Loop"/>), then <see cref="RunUntilIdleAsync"/> instead of waiting and <see cref="AdvanceAsync"/>
/// instead of sleeping. Test-framework neutral: failures throw <see cref="EngineHarnessException"/>.
/// </summary>
/// <remarks>
/// <para>
/// <b>Idle</b> means nothing can happen until the clock moves. Exactly: in every stage built on the
/// clock, every handler run in progress waits for a timer of the clock or for room in a full stage;
/// every worker loop is inside such a run; no item is in a channel or ready queue while a worker is
/// free to take it; no write or callback is under way; items held wait for a retry's backoff or
/// behind their key. Every batch stage waits for items or for its window, every periodic loop for
/// its interval; no timer of the clock is due and no timer callback runs; every source probe has
/// written all it was sent (or its write waits for room). Items waiting for a retry, a batch window
/// or a loop's interval are allowed: they are what <see cref="AdvanceAsync"/> releases.
/// </para>
/// <para>
/// Parts register themselves when they are built on the clock, so pipelines and stages a host builds
/// (Engine.Hosting, with the clock registered as the host's <see cref="TimeProvider"/>) are seen too.
/// </para>
/// </remarks>
public sealed class EngineHarness : IAsyncDisposable
{
    private readonly EngineHarnessOptions _options;
    private readonly List<IHarnessSource> _sources = [];

    /// <summary>Sources whose failure a wait already threw: it is reported once, not by every later wait.</summary>
    private readonly HashSet<IHarnessSource> _reported = [];
    /// <summary>What the harness created and disposes, with how to complete it first.</summary>
    private readonly List<(IAsyncDisposable Part, IWatchedPart Watched, Func<Task> Stop)> _owned = [];
    private readonly Lock _lock = new();
    private int _disposed;

    /// <summary>Creates a harness with its own clock.</summary>
    /// <param name="options">How it runs; the defaults when null.</param>
    /// <exception cref="ArgumentOutOfRangeException"><see cref="EngineHarnessOptions.IdleTimeout"/>, <see cref="EngineHarnessOptions.MaxDrainTime"/> or <see cref="EngineHarnessOptions.Seed"/> is out of range (the message names it).</exception>
    public EngineHarness(EngineHarnessOptions? options = null)
    {
        _options = options ?? new EngineHarnessOptions();
        if (_options.IdleTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(options), _options.IdleTimeout, "EngineHarnessOptions.IdleTimeout must be more than zero.");
        }

        if (_options.MaxDrainTime <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(options), _options.MaxDrainTime, "EngineHarnessOptions.MaxDrainTime must be more than zero.");
        }

        if (_options.Seed < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(options), _options.Seed, "EngineHarnessOptions.Seed must be zero or more.");
        }

        Clock = new TestClock(_options.Start, _options.Seed);
    }

    /// <summary>The virtual clock: give it to whatever the test builds (<c>TimeProvider</c> options, a host's services).</summary>
    public TestClock Clock { get; }

    /// <summary>The clock's reading.</summary>
    public DateTimeOffset Now => Clock.GetUtcNow();

    /// <summary>Starts a pipeline on the harness's clock (see <see cref="Pipelines.Pipeline.Create{TIn}"/>).</summary>
    /// <typeparam name="T">The pipeline's input type.</typeparam>
    /// <param name="name">The pipeline's name.</param>
    /// <param name="metrics">Whether its stages record timings. The default value is true.</param>
    /// <returns>The builder.</returns>
    public PipelineBuilder<T> Pipeline<T>(string name, bool metrics = true) => Pipelines.Pipeline.Create<T>(name, Clock, metrics);

    /// <summary>Creates a stage on the harness's clock; the harness completes and disposes it when it is disposed.</summary>
    /// <typeparam name="T">The item type.</typeparam>
    /// <param name="options">The stage's options; its <see cref="StageOptions{T}.TimeProvider"/> is set to <see cref="Clock"/>.</param>
    /// <param name="handler">Handles one item.</param>
    /// <returns>The stage.</returns>
    /// <exception cref="ArgumentException">The options name another clock (<c>options.TimeProvider</c>), or are invalid.</exception>
    public Stage<T> Stage<T>(StageOptions<T> options, Func<T, CancellationToken, ValueTask> handler) =>
        Own(Stages.Stage.Create(OnClock(options), handler));

    /// <summary>Creates a stage whose handler sees each run's context, on the harness's clock; the harness completes and disposes it when it is disposed.</summary>
    /// <typeparam name="T">The item type.</typeparam>
    /// <param name="options">The stage's options; its <see cref="StageOptions{T}.TimeProvider"/> is set to <see cref="Clock"/>.</param>
    /// <param name="handler">Handles one item (a <see cref="SinkProbe{T}.HandleAsync"/>, say).</param>
    /// <returns>The stage.</returns>
    /// <exception cref="ArgumentException">The options name another clock (<c>options.TimeProvider</c>), or are invalid.</exception>
    public Stage<T> Stage<T>(StageOptions<T> options, Func<T, ItemContext, CancellationToken, ValueTask> handler) =>
        Own(Stages.Stage.Create(OnClock(options), handler));

    /// <summary>Starts a periodic loop on the harness's clock; the harness stops it when it is disposed.</summary>
    /// <param name="options">The loop's options; its <see cref="PeriodicLoopOptions.TimeProvider"/> is set to <see cref="Clock"/>.</param>
    /// <param name="job">One run.</param>
    /// <returns>The loop.</returns>
    /// <exception cref="ArgumentException">The options name another clock (<c>options.TimeProvider</c>), or are invalid.</exception>
    public PeriodicLoop Loop(PeriodicLoopOptions options, Func<CancellationToken, ValueTask<LoopRun>> job)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.TimeProvider = CheckClock(options.TimeProvider, $"PeriodicLoop '{options.Name}'", nameof(options));
        PeriodicLoop loop = PeriodicLoop.Start(options, job);
        lock (_lock)
        {
            _owned.Add((loop, loop, loop.StopAsync));
        }

        return loop;
    }

    /// <summary>A sink probe on the harness's clock (see <see cref="SinkProbe{T}"/>).</summary>
    /// <typeparam name="T">The item type.</typeparam>
    /// <param name="then">What the sink does with each item before it is recorded (it may throw, to test retries); nothing when null.</param>
    /// <returns>The probe.</returns>
    public SinkProbe<T> Sink<T>(Func<T, ItemContext, CancellationToken, ValueTask>? then = null) => new(Clock, then);

    /// <summary>A source probe that writes into <paramref name="pipeline"/> (see <see cref="SourceProbe{T}"/>).</summary>
    /// <typeparam name="T">The item type.</typeparam>
    /// <param name="pipeline">A pipeline built on the harness's clock.</param>
    /// <returns>The probe.</returns>
    /// <exception cref="ArgumentException">The pipeline was built on another clock.</exception>
    public SourceProbe<T> Source<T>(Pipeline<T> pipeline)
    {
        CheckPipeline(pipeline, nameof(pipeline));
        return AddSource(new SourceProbe<T>($"pipeline '{pipeline.Name}'", pipeline.WriteAsync));
    }

    /// <summary>A source probe that writes into <paramref name="stage"/> (see <see cref="SourceProbe{T}"/>).</summary>
    /// <typeparam name="T">The item type.</typeparam>
    /// <param name="stage">A stage built on the harness's clock.</param>
    /// <returns>The probe.</returns>
    /// <exception cref="ArgumentException">The stage was built on another clock.</exception>
    public SourceProbe<T> Source<T>(Stage<T> stage)
    {
        CheckStage(stage, nameof(stage));
        return AddSource(new SourceProbe<T>($"stage '{stage.Name}'", stage.WriteAsync));
    }

    /// <summary>What a stage built on the harness's clock gave up: dead letters, drops, superseded items (see <see cref="StageView{T}"/>).</summary>
    /// <typeparam name="T">The stage's item type.</typeparam>
    /// <param name="stage">The stage's name.</param>
    /// <param name="pipeline">Its pipeline's name, when several pipelines have a stage of that name; null to match any.</param>
    /// <returns>The view.</returns>
    /// <exception cref="ArgumentException">No stage of that name and item type was built on the harness's clock (the message lists those that were), or several match.</exception>
    public StageView<T> View<T>(string stage, string? pipeline = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(stage);
        IWatchedPart[] parts = Clock.Parts;
        List<Stage<T>> found = [.. parts.OfType<Stage<T>>().Where(s => s.Name == stage && (pipeline is null || ((IWatchedPart)s).Pipeline == pipeline))];
        if (found.Count == 1)
        {
            return new StageView<T>(found[0], found[0].Watch!, ((IWatchedPart)found[0]).Pipeline);
        }

        string known = string.Join(", ", parts.Select(p => $"'{p.Name}'" + (p.Pipeline is null ? "" : $" of pipeline '{p.Pipeline}'") + $" ({Kind(p)})"));
        throw new ArgumentException(
            found.Count == 0
                ? $"No stage '{stage}'{(pipeline is null ? "" : $" of pipeline '{pipeline}'")} of items {typeof(T).Name} was built on the harness's clock; built on it: {(known.Length == 0 ? "nothing" : known)}. Build it with harness.Pipeline(...) or harness.Stage(...), or with harness.Clock as its TimeProvider."
                : $"{found.Count} stages named '{stage}' were built on the harness's clock; name the pipeline.",
            nameof(stage));
    }

    /// <summary>
    /// Waits until the engine is idle (see the remarks of <see cref="EngineHarness"/>), without moving the clock.
    /// </summary>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>A task that completes when everything built on the clock is idle.</returns>
    /// <exception cref="EngineHarnessTimeoutException">Not idle within <see cref="EngineHarnessOptions.IdleTimeout"/> (real time); the message says what is busy.</exception>
    /// <exception cref="EngineHarnessException">A source probe's write failed.</exception>
    public async Task RunUntilIdleAsync(CancellationToken cancellationToken = default)
    {
        long started = Stopwatch.GetTimestamp();
        int quietReads = 0;
        for (int round = 0; ; round++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            Snapshot now = Look();
            if (now.Fault is { } fault)
            {
                throw fault;
            }

            if (now.Busy.Count == 0)
            {
                // Twice in a row, a yield apart: a reading taken while a part changed could mix two moments.
                if (++quietReads == 2)
                {
                    return;
                }
            }
            else
            {
                quietReads = 0;
                if (Stopwatch.GetElapsedTime(started) > _options.IdleTimeout)
                {
                    throw Timeout(now);
                }
            }

            if (Clock.HasDueTimer() && !Clock.IsFiring)
            {
                // A timer armed at or before now that has not fired yet: the fake clock fires it on its next move.
                Clock.Advance(TimeSpan.Zero);
                continue;
            }

            // Polling: the engine offers no event for "idle", and adding one would cost its item path.
            // Yield first (most waits end within a few thread-pool turns), then back off to short real delays.
            if (round < 64)
            {
                await Task.Yield();
            }
            else
            {
                await Task.Delay(round < 256 ? 1 : 5, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Moves the clock forward by <paramref name="by"/>: runs until idle, then fires the timers due in
    /// that span in due order, moving the clock to each one's due time and running until idle after
    /// each (so a retry that fails again, or a window that a flush re-opens, fires in the same call if
    /// it falls due within the span), and ends at exactly now + <paramref name="by"/>, idle.
    /// </summary>
    /// <param name="by">How far to move; zero just runs until idle.</param>
    /// <param name="cancellationToken">Stops the advance between steps.</param>
    /// <returns>A task that completes when the clock reads the target and the engine is idle.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="by"/> is negative: the clock never goes back.</exception>
    /// <exception cref="EngineHarnessTimeoutException">A step did not become idle within <see cref="EngineHarnessOptions.IdleTimeout"/>.</exception>
    public async Task AdvanceAsync(TimeSpan by, CancellationToken cancellationToken = default)
    {
        if (by < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(by), by, "The harness's clock only moves forward: advance by zero or more.");
        }

        DateTimeOffset target = Now + by;
        await RunUntilIdleAsync(cancellationToken).ConfigureAwait(false);
        while (Clock.NextTimerDue is { } next && next <= target)
        {
            Clock.Advance(next > Now ? next - Now : TimeSpan.Zero);
            await RunUntilIdleAsync(cancellationToken).ConfigureAwait(false);
        }

        if (Now < target)
        {
            Clock.Advance(target - Now);
            await RunUntilIdleAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Completes a pipeline built on the harness's clock and drives it until it has completed: runs
    /// until idle and, while it has not completed, advances to the next timer (retries, windows), for
    /// at most <see cref="EngineHarnessOptions.MaxDrainTime"/> of virtual time. Then checks each stage's
    /// accounting identity.
    /// </summary>
    /// <typeparam name="T">The pipeline's input type.</typeparam>
    /// <param name="pipeline">The pipeline.</param>
    /// <param name="cancellationToken">Stops driving.</param>
    /// <returns>Every stage's counts once the pipeline has completed.</returns>
    /// <exception cref="ArgumentException">The pipeline was built on another clock.</exception>
    /// <exception cref="EngineHarnessException">It cannot complete (idle, nothing due on the clock, or past the drain time), or a stage's counts do not add up (the message names the stage and its counts).</exception>
    /// <exception cref="PipelineFaultedException">The pipeline faulted.</exception>
    public async Task<PipelineCounts> CompleteAsync<T>(Pipeline<T> pipeline, CancellationToken cancellationToken = default)
    {
        CheckPipeline(pipeline, nameof(pipeline));
        pipeline.Complete();
        await DriveUntilAsync(pipeline.Completion, $"pipeline '{pipeline.Name}'", cancellationToken).ConfigureAwait(false);
        await pipeline.Completion.ConfigureAwait(false);
        CheckConserved(Clock.Parts.Where(p => p.Pipeline == pipeline.Name));
        return pipeline.GetCounts();
    }

    /// <summary>Completes a stage built on the harness's clock and drives it until it has completed, as <see cref="CompleteAsync{T}(Pipeline{T}, CancellationToken)"/> does a pipeline.</summary>
    /// <typeparam name="T">The item type.</typeparam>
    /// <param name="stage">The stage.</param>
    /// <param name="cancellationToken">Stops driving.</param>
    /// <returns>The stage's counts once it has completed.</returns>
    /// <exception cref="ArgumentException">The stage was built on another clock.</exception>
    /// <exception cref="EngineHarnessException">It cannot complete, or its counts do not add up.</exception>
    public async Task<StageCounts> CompleteAsync<T>(Stage<T> stage, CancellationToken cancellationToken = default)
    {
        CheckStage(stage, nameof(stage));
        stage.Complete();
        await DriveUntilAsync(stage.Completion, $"stage '{stage.Name}'", cancellationToken).ConfigureAwait(false);
        await stage.Completion.ConfigureAwait(false);
        CheckConserved([stage]);
        return stage.GetCounts();
    }

    /// <summary>What is busy and what waits for the clock now, one line each (for a test's own messages).</summary>
    /// <returns>The lines; "idle" parts that hold nothing are left out.</returns>
    public string Describe() => Describe(Look());

    /// <summary>
    /// Completes, drains (as <see cref="CompleteAsync{T}(Stage{T}, CancellationToken)"/>) and disposes
    /// the stages and loops the harness created, then checks the accounting identity of every stage
    /// built on its clock that has completed (pipelines' stages and a host's included).
    /// </summary>
    /// <returns>A task that completes when all is disposed.</returns>
    /// <exception cref="EngineHarnessException">A stage's counts do not add up (the message names every such stage and its counts), or a stage cannot drain.</exception>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        (IAsyncDisposable Part, IWatchedPart Watched, Func<Task> Stop)[] owned;
        lock (_lock)
        {
            owned = [.. _owned];
        }

        foreach ((IAsyncDisposable part, IWatchedPart watched, Func<Task> stop) in owned)
        {
            if (!watched.Completion.IsCompleted)
            {
                await stop().ConfigureAwait(false);
            }

            await part.DisposeAsync().ConfigureAwait(false);
        }

        CheckConserved(Clock.Parts.Where(p => p.Completion.IsCompleted && p is not PeriodicLoop));
    }

    private async Task DriveUntilAsync(Task done, string what, CancellationToken cancellationToken)
    {
        DateTimeOffset limit = Now + _options.MaxDrainTime;
        long stuckSince = 0;
        while (true)
        {
            await RunUntilIdleAsync(cancellationToken).ConfigureAwait(false);
            if (done.IsCompleted)
            {
                return;
            }

            // Idle but not done: the clock moves it on, when a timer is due within the limit.
            if (Clock.NextTimerDue is { } next && next <= limit)
            {
                Clock.Advance(next > Now ? next - Now : TimeSpan.Zero);
                stuckSince = 0;
                continue;
            }

            // Or a completion still travels from stage to stage (a continuation no part shows): look
            // again shortly, for at most the idle timeout, before calling it stuck.
            if (stuckSince == 0)
            {
                stuckSince = Stopwatch.GetTimestamp();
            }
            else if (Stopwatch.GetElapsedTime(stuckSince) > _options.IdleTimeout)
            {
                throw new EngineHarnessException(
                    $"The harness cannot complete {what}: it is idle and {(Clock.NextTimerDue is { } later ? $"the next timer of the clock is at {Format(later)}, past the drain limit {Format(limit)} (EngineHarnessOptions.MaxDrainTime)" : "nothing is due on the clock")}.{Environment.NewLine}{Describe(Look())}");
            }

            await Task.WhenAny(done, Task.Delay(5, cancellationToken)).ConfigureAwait(false);
        }
    }

    private Stage<T> Own<T>(Stage<T> stage)
    {
        lock (_lock)
        {
            _owned.Add((stage, stage, () => CompleteAsync(stage)));
        }

        return stage;
    }

    private SourceProbe<T> AddSource<T>(SourceProbe<T> source)
    {
        lock (_lock)
        {
            _sources.Add(source);
        }

        return source;
    }

    private StageOptions<T> OnClock<T>(StageOptions<T> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.TimeProvider = CheckClock(options.TimeProvider, $"Stage '{options.Name}'", nameof(options));
        return options;
    }

    /// <summary>The harness's clock in place of the default one; another clock is a mistake the harness could not drive.</summary>
    private TestClock CheckClock(TimeProvider? given, string owner, string paramName) =>
        given is null || ReferenceEquals(given, TimeProvider.System) || ReferenceEquals(given, Clock)
            ? Clock
            : throw new ArgumentException($"{owner}: options.TimeProvider is another clock ({given.GetType().Name}); the harness drives only its own (harness.Clock). Leave it unset.", paramName);

    private void CheckPipeline<T>(Pipeline<T> pipeline, string parameter)
    {
        ArgumentNullException.ThrowIfNull(pipeline, parameter);
        if (!ReferenceEquals(pipeline.Runtime.TimeProvider, Clock))
        {
            throw new ArgumentException(
                $"Pipeline '{pipeline.Name}' was built outside the harness, on another clock ({pipeline.Runtime.TimeProvider.GetType().Name}): the harness could neither see its stages nor fire its timers. Build it with harness.Pipeline<T>(\"{pipeline.Name}\") (or Pipeline.Create(name, harness.Clock)).",
                parameter);
        }
    }

    private void CheckStage<T>(Stage<T> stage, string parameter)
    {
        ArgumentNullException.ThrowIfNull(stage, parameter);
        if (!Clock.Parts.Contains(stage))
        {
            throw new ArgumentException(
                $"Stage '{stage.Name}' was built outside the harness, on another clock: the harness could neither see its shards nor fire its timers. Build it with harness.Stage(options, handler) (or with options.TimeProvider = harness.Clock).",
                parameter);
        }
    }

    private static void CheckConserved(IEnumerable<IWatchedPart> parts)
    {
        var broken = new List<string>();
        foreach (IWatchedPart part in parts)
        {
            if (part is not PeriodicLoop && part.Completion.IsCompleted && Unconserved(Where(part), part.GetCounts()) is { } message)
            {
                broken.Add(message);
            }
        }

        if (broken.Count > 0)
        {
            throw new EngineHarnessException("The accounting identity does not hold at completion for " + string.Join("; ", broken) + ".");
        }
    }

    /// <summary>
    /// Null when a completed stage's counts add up (accepted = processed + dead-lettered + dropped +
    /// superseded + abandoned, nothing pending); otherwise what does not, naming <paramref name="where"/>.
    /// </summary>
    internal static string? Unconserved(string where, StageCounts c) =>
        c.IsConserved && c.Pending == 0
            ? null
            : string.Create(CultureInfo.InvariantCulture, $"{where}: accepted {c.Accepted} != processed {c.Processed} + dead-lettered {c.DeadLettered} + dropped {c.Dropped} + superseded {c.Superseded} + abandoned {c.Abandoned} + pending {c.Pending} (= {c.Processed + c.DeadLettered + c.Dropped + c.Superseded + c.Abandoned + c.Pending})");

    /// <summary>One look at everything: what is busy, what waits for the clock, and a source's failure.</summary>
    private Snapshot Look()
    {
        var states = new List<PartState>();
        foreach (IWatchedPart part in Clock.Parts)
        {
            part.Inspect(states);
        }

        var busy = new List<string>();
        var waiting = new List<string>();
        long writesWaiting = 0;
        long writersWaiting = 0;
        foreach (PartState state in states)
        {
            string line = Line(state);
            (state.Busy ? busy : waiting).Add(line);
            writesWaiting += state.WritesWaitingForRoom;
            writersWaiting += state.SaysItWaitsForRoom;
        }

        if (Clock.IsFiring)
        {
            busy.Add("a timer of the clock is firing");
        }
        else if (Clock.NextTimerDue is { } due && due <= Clock.GetUtcNow())
        {
            // Read once: a timer due now (a zero delay) may fire on another thread between two reads.
            busy.Add($"a timer of the clock is due ({Format(due)}) and has not fired");
        }

        IHarnessSource[] sources;
        lock (_lock)
        {
            sources = [.. _sources];
        }

        EngineHarnessException? fault = null;
        foreach (IHarnessSource source in sources)
        {
            if (source.Fault is { } error)
            {
                lock (_lock)
                {
                    if (fault is null && _reported.Add(source))
                    {
                        fault = new EngineHarnessException($"The source into {source.Name} stopped: a write threw {error.GetType().Name}: {error.Message}", error);
                    }
                }
            }
            else if (source.Busy is { } line)
            {
                busy.Add(line);
            }
            else if (source.Waiting is { } wait)
            {
                waiting.Add(wait);
                writersWaiting++;
            }
        }

        // A write that got its room completes its writer's task a moment later (on a continuation):
        // until then the writer still says it waits. More writers saying so than writes waiting in
        // the shards means one of them is on its way.
        if (writersWaiting > writesWaiting)
        {
            busy.Add($"a write that waited for room got it and its writer is about to go on ({writersWaiting} writer(s) say they wait, {writesWaiting} write(s) wait in full shards)");
        }

        return new Snapshot(busy, waiting, fault);
    }

    private EngineHarnessTimeoutException Timeout(Snapshot now)
    {
        bool outsideClock = now.Busy.Any(b => b.Contains("other than the clock", StringComparison.Ordinal));
        string why = outsideClock
            ? "a handler waits for something other than the harness's clock (real I/O, a real delay, a lock, a task nobody completes); the clock does not move by itself, and advancing it cannot help"
            : "work is still under way";
        string next = Clock.NextTimerDue is { } due ? $"the next timer of the clock is at {Format(due)}" : "no timer of the clock is armed";
        return new EngineHarnessTimeoutException(
            string.Create(CultureInfo.InvariantCulture, $"The engine did not become idle within {_options.IdleTimeout.TotalSeconds:0.###} s (real time, EngineHarnessOptions.IdleTimeout): {why}; the clock reads {Format(Now)} and {next}.{Environment.NewLine}{Describe(now)}"))
        {
            Busy = now.Busy,
        };
    }

    private string Describe(Snapshot now)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"at {Format(Now)}:");
        foreach (string line in now.Busy)
        {
            text.AppendLine().Append("  busy: ").Append(line);
        }

        foreach (string line in now.Waiting)
        {
            text.AppendLine().Append("  waits for the clock: ").Append(line);
        }

        if (now.Busy.Count == 0 && now.Waiting.Count == 0)
        {
            text.Append(" idle, nothing waits");
        }

        return text.ToString();
    }

    private static string Line(PartState state)
    {
        var text = new StringBuilder();
        if (state.Pipeline is not null)
        {
            text.Append(CultureInfo.InvariantCulture, $"pipeline '{state.Pipeline}' ");
        }

        text.Append(CultureInfo.InvariantCulture, $"'{state.Part}'");
        if (state.Shard is { } shard)
        {
            text.Append(CultureInfo.InvariantCulture, $" shard {shard}");
        }

        if (state.Key is not null)
        {
            text.Append(CultureInfo.InvariantCulture, $" key '{state.Key}'");
        }

        return text.Append(": ").Append(state.What).ToString();
    }

    private static string Where(IWatchedPart part) =>
        part.Pipeline is null ? $"{Kind(part)} '{part.Name}'" : $"{Kind(part)} '{part.Name}' of pipeline '{part.Pipeline}'";

    private static string Kind(IWatchedPart part) =>
        part is PeriodicLoop ? "loop" : part.GetType().IsGenericType && part.GetType().GetGenericTypeDefinition() == typeof(Stage<>) ? "stage" : "batch stage";

    private static string Format(DateTimeOffset time) => time.ToString("yyyy-MM-dd HH:mm:ss.fff", CultureInfo.InvariantCulture);

    private sealed record Snapshot(List<string> Busy, List<string> Waiting, EngineHarnessException? Fault);
}
