using Engine.Dedupe;
using Engine.Stages;
using Microsoft.Extensions.Logging;

namespace Engine.Hosting;

/// <summary>
/// Wires a stage's public callbacks to the host's log: handler errors, dead letters and drops are logged, and every
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

        // Every failed run, in a pipeline's stages as in a stand-alone one (a run an abort cancelled
        // is not reported by the stage).
        Action<T, ItemFailure>? onHandlerError = options.OnHandlerError;
        options.OnHandlerError = (item, failure) =>
        {
            if (log.ShouldLog(stage, "handler errors", LogLevel.Warning))
            {
                HostingLog.HandlerFailed(log.Logger, stage, ItemLog.KeyOf(keys, item), failure.Exception);
            }

            Guard(onHandlerError, item, failure, "OnHandlerError", stage, keys, log);
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
