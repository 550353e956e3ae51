using System.Numerics;
using System.Runtime.CompilerServices;
using Engine.Dedupe;
using Engine.Inspection;
using Engine.Internal;
using Engine.Metrics;
using Engine.RateLimits;
using Engine.Retry;
using Engine.Shards;
using Engine.Timing;

namespace Engine.Stages;

/// <summary>Creates stages.</summary>
public static class Stage
{
    /// <summary>Creates a stage with an asynchronous handler.</summary>
    /// <typeparam name="T">The item type.</typeparam>
    /// <param name="options">The stage's shape; validated and copied now.</param>
    /// <param name="handler">
    /// Handles one item. It gets a token that is cancelled when the stage aborts. An exception it throws
    /// is retried when transient (see <see cref="StageOptions{T}.Retry"/>) and dead-lettered otherwise;
    /// it never stops the stage.
    /// </param>
    /// <returns>The running stage, ready for writes.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> or <paramref name="handler"/> is null.</exception>
    /// <exception cref="ArgumentException">An option is invalid; the message names it.</exception>
    /// <remarks>
    /// A handler that returns <see cref="Task"/> (a method group such as <c>SaveAsync</c>) takes the
    /// <see cref="Create{T}(StageOptions{T}, Func{T, CancellationToken, Task})"/> overload; a lambda that
    /// fits both (<c>(e, ct) => default</c>, an <c>async</c> lambda) takes this one, which adds nothing per item.
    /// </remarks>
    [OverloadResolutionPriority(1)]
    public static Stage<T> Create<T>(StageOptions<T> options, Func<T, CancellationToken, ValueTask> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return Create(options, handler, null);
    }

    /// <summary>
    /// Creates a stage with a <see cref="Task"/>-returning handler, so a method group such as
    /// <c>SaveAsync</c> can be passed as it is. Everything else is as for the <see cref="ValueTask"/> overload.
    /// </summary>
    /// <typeparam name="T">The item type.</typeparam>
    /// <param name="options">The stage's shape; validated and copied now.</param>
    /// <param name="handler">Handles one item; see the <see cref="ValueTask"/> overload.</param>
    /// <returns>The running stage, ready for writes.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> or <paramref name="handler"/> is null.</exception>
    /// <exception cref="ArgumentException">An option is invalid; the message names it.</exception>
    public static Stage<T> Create<T>(StageOptions<T> options, Func<T, CancellationToken, Task> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return Create(options, TaskHandlers.Adapt(handler), null);
    }

    /// <summary>
    /// Creates a stage with a synchronous handler, which runs with no async state machine at all; use it
    /// for CPU-bound work. Everything else is as for the asynchronous overload.
    /// </summary>
    /// <typeparam name="T">The item type.</typeparam>
    /// <param name="options">The stage's shape; validated and copied now.</param>
    /// <param name="handler">Handles one item; see the asynchronous overload.</param>
    /// <returns>The running stage, ready for writes.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> or <paramref name="handler"/> is null.</exception>
    /// <exception cref="ArgumentException">An option is invalid; the message names it.</exception>
    public static Stage<T> Create<T>(StageOptions<T> options, Action<T, CancellationToken> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return Create(options, null, handler);
    }

    /// <summary>
    /// Creates a stage whose handler also receives the item's <see cref="ItemContext"/>: when it entered
    /// the pipeline (for end-to-end latency) and which attempt this is. Everything else is as for the
    /// asynchronous overload.
    /// </summary>
    /// <typeparam name="T">The item type.</typeparam>
    /// <param name="options">The stage's shape; validated and copied now.</param>
    /// <param name="handler">Handles one item; see the asynchronous overload.</param>
    /// <returns>The running stage, ready for writes.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> or <paramref name="handler"/> is null.</exception>
    /// <exception cref="ArgumentException">An option is invalid; the message names it.</exception>
    [OverloadResolutionPriority(1)]
    public static Stage<T> Create<T>(StageOptions<T> options, Func<T, ItemContext, CancellationToken, ValueTask> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return Create(options, null, null, handler);
    }

    /// <summary>
    /// Creates a stage whose <see cref="Task"/>-returning handler also receives the item's
    /// <see cref="ItemContext"/>. Everything else is as for the <see cref="ValueTask"/> overload.
    /// </summary>
    /// <typeparam name="T">The item type.</typeparam>
    /// <param name="options">The stage's shape; validated and copied now.</param>
    /// <param name="handler">Handles one item; see the asynchronous overload.</param>
    /// <returns>The running stage, ready for writes.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> or <paramref name="handler"/> is null.</exception>
    /// <exception cref="ArgumentException">An option is invalid; the message names it.</exception>
    public static Stage<T> Create<T>(StageOptions<T> options, Func<T, ItemContext, CancellationToken, Task> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return Create(options, null, null, TaskHandlers.Adapt(handler));
    }

    private static Stage<T> Create<T>(StageOptions<T> options, Func<T, CancellationToken, ValueTask>? asyncHandler, Action<T, CancellationToken>? syncHandler, Func<T, ItemContext, CancellationToken, ValueTask>? contextHandler = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        Validate(options);
        // On a watching clock (Engine.Testing's harness) the handler and the item callbacks are
        // wrapped once, here, so the harness sees runs in progress and every item a callback reports.
        RunWatch<T>? watch = options.TimeProvider is IWatchingClock ? new RunWatch<T>(options.Name, options.TimeProvider, options.KeySelector, options.Shards) : null;

        // A rate limit wraps the handler (inside the watch, which then sees a held-back run as a run).
        RateLimitGate<T>? rateLimit = options.RateLimit is null ? null : new RateLimitGate<T>(options.RateLimit, options.KeySelector, options.Shards, options.Name);
        if (rateLimit is not null)
        {
            asyncHandler = rateLimit.Wrap(asyncHandler);
            syncHandler = rateLimit.Wrap(syncHandler);
            contextHandler = rateLimit.Wrap(contextHandler);
        }

        if (watch is not null)
        {
            asyncHandler = watch.Wrap(asyncHandler);
            syncHandler = watch.Wrap(syncHandler);
            contextHandler = watch.Wrap(contextHandler);
        }

        var settings = new ShardSettings<T>
        {
            Name = options.Name,
            FullMode = options.FullMode,
            Capacity = options.Capacity,
            Queue = options.Queue,
            TimeProvider = options.TimeProvider,
            Retry = options.Retry is null ? RetryPolicy.None : new RetryPolicy(options.Retry),
            Delays = options.Delays is { } delays ? new DelayOptions { MaxDelay = delays.MaxDelay, LaterItemsOvertake = delays.LaterItemsOvertake } : null,
            Debounce = options.Debounce is { } debounce ? new DebounceOptions { QuietPeriod = debounce.QuietPeriod, MaxWait = debounce.MaxWait } : null,
            RateLimit = rateLimit,
            Dedupe = options.Dedupe is null ? null : new DedupePolicy<T>(options.Dedupe, options.Shards, watch?.Chain(options.Dedupe.OnSuperseded)),
            OnDropped = watch is null ? options.OnDropped : watch.Chain(options.OnDropped),
            MetricsEnabled = options.Metrics,
            LatencySampling = options.LatencySampling,
            PipelineName = options.PipelineName,
            RecordsEndToEnd = options.RecordsEndToEnd,
            KindSelector = options.Metrics ? options.KindSelector : null,
            OnDeadLetter = watch is null ? options.OnDeadLetter : watch.Chain(options.OnDeadLetter),
            OnHandlerError = options.OnHandlerError,
            AsyncHandler = asyncHandler,
            SyncHandler = syncHandler,
            ContextHandler = contextHandler,
            Jitter = options.TimeProvider is IWatchingClock watching ? watching.NextJitter : Random.Shared.NextDouble,
        };
        return new Stage<T>(options, settings, watch);
    }

    private static void Validate<T>(StageOptions<T> options)
    {
        string owner = string.IsNullOrWhiteSpace(options.Name) ? "Stage" : $"Stage '{options.Name}'";
        if (string.IsNullOrWhiteSpace(options.Name))
        {
            throw OptionsValidation.Invalid(owner, "options.Name", "is required and may not be blank.");
        }

        OptionsValidation.Validate(options, owner, "options");
        if (options.TimeProvider is null)
        {
            throw OptionsValidation.Invalid(owner, "options.TimeProvider", "may not be null.");
        }

        if (!BitOperations.IsPow2(options.LatencySampling))
        {
            throw OptionsValidation.Invalid(owner, "options.LatencySampling", $"({options.LatencySampling}) must be a power of two from 1 to {StageConstants.MaxLatencySampling}.");
        }

        if (options.DisposeDrainTimeout < TimeSpan.Zero && options.DisposeDrainTimeout != Timeout.InfiniteTimeSpan)
        {
            throw OptionsValidation.Invalid(owner, "options.DisposeDrainTimeout", "must be zero or more, or Timeout.InfiniteTimeSpan.");
        }

        if (options.Dedupe is { } dedupe)
        {
            OptionsValidation.Validate(dedupe, owner, "options.Dedupe");
            if (options.KeySelector is null)
            {
                throw OptionsValidation.Invalid(owner, "options.Dedupe", "needs options.KeySelector: dedupe works on keyed items.");
            }

            if (dedupe.Merge is not null && dedupe.Mode != DedupeMode.Replace)
            {
                throw OptionsValidation.Invalid(owner, "options.Dedupe.Merge", "only applies with options.Dedupe.Mode = Replace.");
            }

            if (dedupe.IsTombstone is not null && dedupe.ContentHash is null)
            {
                throw OptionsValidation.Invalid(owner, "options.Dedupe.IsTombstone", "only applies with options.Dedupe.ContentHash.");
            }
        }

        TimingValidation.Validate(options, owner);
        if (options.Retry is { } retry)
        {
            OptionsValidation.Validate(retry, owner, "options.Retry");
            if (retry.MaxDelay < retry.BaseDelay)
            {
                throw OptionsValidation.Invalid(owner, "options.Retry.MaxDelay", $"({retry.MaxDelay}) may not be below options.Retry.BaseDelay ({retry.BaseDelay}).");
            }
        }
    }
}
