using Engine.Dedupe;
using Engine.Stages;
using Microsoft.Extensions.Logging;

namespace Engine.Hosting;

/// <summary>
/// Wires a stage's public callbacks to the host's log: dead letters and drops are logged, and every
/// user callback is wrapped so that an exception it throws is logged before the stage swallows and
/// counts it (the wrapper rethrows, so <see cref="StageCounts.CallbackErrors"/> stays exact).
/// </summary>
internal static class StageLogging
{
    public static void Apply<T>(StageOptions<T> options, string stage, ItemLog log)
    {
        if (!log.Enabled)
        {
            return;
        }

        // Read once the code and the configuration have had their say: these are the stage's selector and callbacks.
        Func<T, Routing.ItemKey>? keys = options.KeySelector;
        Action<T, ItemFailure>? onDeadLetter = options.OnDeadLetter;
        options.OnDeadLetter = (item, failure) =>
        {
            if (log.ShouldLog(stage, "dead letters", LogLevel.Error))
            {
                HostingLog.DeadLettered(log.Logger, stage, ItemLog.KeyOf(keys, item), failure.Attempts, failure.Exception);
            }

            Guard(onDeadLetter, item, failure, "OnDeadLetter", stage, keys, log);
        };

        Action<T, DropReason>? onDropped = options.OnDropped;
        options.OnDropped = (item, reason) =>
        {
            if (log.ShouldLog(stage, "drops", LogLevel.Warning))
            {
                HostingLog.Dropped(log.Logger, stage, ItemLog.KeyOf(keys, item), reason);
            }

            Guard(onDropped, item, reason, "OnDropped", stage, keys, log);
        };

        if (options.Dedupe is { OnSuperseded: { } onSuperseded } dedupe)
        {
            // Superseding is normal dedupe work, not worth a log entry; only a throwing callback is.
            dedupe.OnSuperseded = (item, reason) => Guard(onSuperseded, item, reason, "OnSuperseded", stage, keys, log);
        }
    }

    /// <summary>
    /// Wraps a stand-alone stage's handler so that its failures are logged with the item's key. The
    /// synchronous path adds no allocation; a cancelled run during an abort is not a failure worth logging.
    /// </summary>
    public static Func<T, ItemContext, CancellationToken, ValueTask> WrapHandler<T>(Func<T, ItemContext, CancellationToken, ValueTask> handler, StageOptions<T> options, string stage, ItemLog log)
    {
        if (!log.Enabled)
        {
            return handler;
        }

        Func<T, Routing.ItemKey>? keys = options.KeySelector;
        return (item, context, cancellationToken) =>
        {
            ValueTask run;
            try
            {
                run = handler(item, context, cancellationToken);
            }
            catch (Exception ex) when (Failed(ex, item, cancellationToken))
            {
                throw;
            }

            return run.IsCompletedSuccessfully ? run : AwaitAsync(run, item, cancellationToken);
        };

        async ValueTask AwaitAsync(ValueTask run, T item, CancellationToken cancellationToken)
        {
            try
            {
                await run.ConfigureAwait(false);
            }
            catch (Exception ex) when (Failed(ex, item, cancellationToken))
            {
                throw;
            }
        }

        // An exception filter that logs and never catches: the stage sees the original exception and stack.
        bool Failed(Exception ex, T item, CancellationToken cancellationToken)
        {
            bool aborted = ex is OperationCanceledException && cancellationToken.IsCancellationRequested;
            if (!aborted && log.ShouldLog(stage, "handler errors", LogLevel.Warning))
            {
                HostingLog.HandlerFailed(log.Logger, stage, ItemLog.KeyOf(keys, item), ex);
            }

            return false;
        }
    }

    private static void Guard<T, TArg>(Action<T, TArg>? callback, T item, TArg argument, string name, string stage, Func<T, Routing.ItemKey>? keys, ItemLog log)
    {
        if (callback is null)
        {
            return;
        }

        try
        {
            callback(item, argument);
        }
        catch (Exception ex) when (Logged(ex))
        {
            throw;
        }

        bool Logged(Exception ex)
        {
            if (log.ShouldLog(stage, "callback errors", LogLevel.Warning))
            {
                HostingLog.CallbackFailed(log.Logger, stage, name, ItemLog.KeyOf(keys, item), ex);
            }

            return false;
        }
    }
}
