using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;
using Engine.Dedupe;
using Engine.Retry;
using Engine.Stages;
using Microsoft.Extensions.Logging;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;
using NATS.Client.KeyValueStore;

namespace Engine.Nats;

/// <summary>
/// One partition owned by this member for one epoch (one lease revision): a fresh durable consumer
/// <c>p{p}-e{revision}</c>, a consume loop feeding a local <see cref="Stage{T}"/>, lease renewal and
/// progress acks. It ends either released (graceful: stop pulling, finish and ack, delete the consumer
/// and the lease) or fenced (a renewal failed, or the lease lapsed by this process's own clock: stop at
/// once, ack nothing more, leave the consumer for the next owner to delete).
/// </summary>
/// <remarks>
/// Lease safety does not wait for the server to say no: every pull, handler run and ack first checks
/// <see cref="HoldsLease"/>, which compares the monotonic clock with the safe deadline (the time the
/// last successful renewal was <em>sent</em>, plus the TTL, less <see cref="SafetyMargin"/>), less
/// <see cref="StartGuard"/>. The server cannot expire the lease before the deadline, so a process that
/// wakes from a pause past it stops before it runs anything, whatever the renewal loop has not yet learnt.
/// </remarks>
/// <typeparam name="T">The item type.</typeparam>
[DebuggerDisplay("Partition = {Partition}, Epoch = {Epoch}, Fenced = {IsFenced}")]
[SuppressMessage("Design", "CA1001:Types that own disposable fields should be disposable", Justification = "Its token sources never get a timer or a wait handle, so there is nothing to free; disposing them would race late Cancel calls from the loops. The lapse timer is disposed when the worker ends.")]
internal sealed class PartitionWorker<T>
{
    private readonly NatsStageRuntime<T> _runtime;
    private readonly string _member;
    private readonly Func<T, NatsItemContext, CancellationToken, ValueTask> _handler;
    private readonly Action _onEnded;

    /// <summary>Cancelled to stop pulling (release or fence).</summary>
    private readonly CancellationTokenSource _pull = new();

    /// <summary>Cancelled when the worker ends: stops renewal and progress acks.</summary>
    private readonly CancellationTokenSource _life = new();

    /// <summary>Messages written to the local stage and not settled yet, by stream sequence; the progress loop keeps them alive.</summary>
    private readonly ConcurrentDictionary<ulong, Delivery<T>> _unsettled = new();

    /// <summary>Dead letters whose DLQ publish the engine's callback started (the fallback path); awaited before release ends.</summary>
    private readonly ConcurrentDictionary<Task, byte> _deadLetters = new();

    private readonly TaskCompletionSource _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly string _stream;
    private readonly string _consumerName;
    private readonly RetryOptions? _retry;

    /// <summary>How long a lease is certainly this member's after the request that created or renewed it was sent (TTL less the margin), in stopwatch ticks.</summary>
    private readonly long _safeTicks;

    /// <summary><see cref="StartGuard"/> in stopwatch ticks.</summary>
    private readonly long _guardTicks;

    /// <summary>Fences the worker when the safe deadline passes with no renewal that moved it (a paused process wakes to it late, which is why every use also checks the clock).</summary>
    private readonly ITimer _lapse;

    /// <summary>The lease's current revision (renewals move it); only the renewal loop writes it.</summary>
    private ulong _revision;

    /// <summary>The stopwatch timestamp until which the lease is certainly this member's (see the remarks); only moves forward.</summary>
    private long _safeUntil;

    /// <summary>
    /// Messages of this partition up to this stream sequence were delivered by an earlier epoch's
    /// consumer and not acknowledged: they may have run before (a crash, a fence, a drain that timed out).
    /// </summary>
    private ulong _deliveredBefore;

    /// <summary>1 once fenced; never reset.</summary>
    private int _fenced;

    /// <summary>1 once a release started; never reset.</summary>
    private int _releasing;

    private Stage<Delivery<T>>? _stage;
    private INatsJSConsumer? _consumer;
    private Task _consumeLoop = Task.CompletedTask;
    private Task _renewLoop = Task.CompletedTask;
    private Task _progressLoop = Task.CompletedTask;
    private long _acked;
    private long _deadLettered;
    private long _skipped;
    private long _ackFailures;

    /// <summary>A worker for one epoch; <paramref name="leaseSentAt"/> is the stopwatch timestamp taken just before the request that created the lease (revision <paramref name="revision"/>) was sent.</summary>
    public PartitionWorker(NatsStageRuntime<T> runtime, string member, int partition, ulong revision, long leaseSentAt, Func<T, NatsItemContext, CancellationToken, ValueTask> handler, Action onEnded)
    {
        _runtime = runtime;
        _member = member;
        Partition = partition;
        Epoch = revision;
        _revision = revision;
        _handler = handler;
        _onEnded = onEnded;
        _stream = runtime.Names.PartitionStream(partition);
        _consumerName = NatsStageNames.ConsumerName(partition, revision);
        _retry = runtime.Options.LocalStage.Retry;
        StartedAt = Stopwatch.GetTimestamp();
        TimeSpan safe = runtime.Options.LeaseTtl - SafetyMargin(runtime.Options.LeaseTtl);
        _safeTicks = (long)(safe.TotalSeconds * Stopwatch.Frequency);
        _guardTicks = (long)(StartGuard(runtime.Options.LeaseTtl).TotalSeconds * Stopwatch.Frequency);
        _safeUntil = leaseSentAt + _safeTicks;
        _lapse = TimeProvider.System.CreateTimer(static state => ((PartitionWorker<T>)state!).OnLapseTimer(), this, Remaining(_safeUntil - _guardTicks), Timeout.InfiniteTimeSpan);
    }

    /// <summary>
    /// What the safe deadline keeps back from the TTL for clock-rate drift between this process and the
    /// server (the server expires the lease by its own clock): a fiftieth of the TTL, 20,000 ppm, forty
    /// times the most an NTP-disciplined clock is slewed (500 ppm). Beyond drift it covers nothing: a
    /// monotonic clock that stops while the process is frozen (some VM freezes) breaks the assumption.
    /// </summary>
    public static TimeSpan SafetyMargin(TimeSpan leaseTtl) => leaseTtl / 50;

    /// <summary>
    /// How long before the safe deadline the member already stops: a tenth of the TTL. A run is checked
    /// before the handler is called, and on a loaded machine the thread can lose the CPU between the
    /// check and the handler's first instruction; the guard keeps such a run's actual start before the
    /// deadline unless it was held off that long. A healthy member never gets near it: each renewal is
    /// sent a third of the TTL after the last and must answer within another third.
    /// </summary>
    public static TimeSpan StartGuard(TimeSpan leaseTtl) => leaseTtl / 10;

    public int Partition { get; }

    /// <summary>The lease revision the ownership started with: the consumer's name and the fencing token.</summary>
    public ulong Epoch { get; }

    public long StartedAt { get; }

    public bool IsFenced => Volatile.Read(ref _fenced) != 0;

    public bool IsReleasing => Volatile.Read(ref _releasing) != 0;

    /// <summary>Completes when the worker has stopped, released or fenced.</summary>
    public Task Ended => _ended.Task;

    public long Acked => Interlocked.Read(ref _acked);

    public long DeadLettered => Interlocked.Read(ref _deadLettered);

    public long Skipped => Interlocked.Read(ref _skipped);

    public long AckFailures => Interlocked.Read(ref _ackFailures);

    public int Unsettled => _unsettled.Count;

    /// <summary>
    /// True while the lease is certainly this member's by the monotonic clock (and the worker is not
    /// fenced). The first call that finds the deadline passed fences the worker, so nothing more is
    /// pulled, run or acknowledged in this epoch. A clock read and a compare: no server round trip.
    /// </summary>
    public bool HoldsLease()
    {
        if (IsFenced)
        {
            return false;
        }

        if (Stopwatch.GetTimestamp() < Volatile.Read(ref _safeUntil) - _guardTicks)
        {
            return true;
        }

        Fence("the lease lapsed by this member's clock (no renewal sent within the TTL less the margin answered in time)");
        return false;
    }

    public StageCounts LocalCounts => _stage?.GetCounts() ?? default;

    /// <summary>The consumer's server-side figures, or null when they cannot be read now.</summary>
    public async Task<ConsumerInfo?> ReadConsumerAsync(CancellationToken cancellationToken)
    {
        if (_consumer is not { } consumer || Ended.IsCompleted)
        {
            return null;
        }

        try
        {
            await consumer.RefreshAsync(cancellationToken).ConfigureAwait(false);
            return consumer.Info;
        }
        catch (Exception ex) when (ex is NatsException or OperationCanceledException)
        {
            return null;
        }
    }

    /// <summary>
    /// Starts the epoch: deletes every older epoch's consumer (so the old owner's pulls and late acks go
    /// nowhere), creates this epoch's, which the work queue hands exactly the unacknowledged messages in
    /// order, and starts pulling. On failure the worker is fenced and the exception propagates.
    /// </summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            string prefix = NatsStageNames.ConsumerPrefix(Partition);
            var old = new List<string>();
            await foreach (string name in _runtime.Js.ListConsumerNamesAsync(_stream, cancellationToken).ConfigureAwait(false))
            {
                if (name.StartsWith(prefix, StringComparison.Ordinal) && name != _consumerName)
                {
                    old.Add(name);
                }
            }

            // Before the old consumers go, remember how far they delivered: what they delivered and nobody
            // acknowledged is still in the work queue and comes to this epoch, and may have run already.
            // The mark is stored, so an owner that crashes before it delivers that far passes it on.
            _deliveredBefore = await CarryDeliveredMarkAsync(old, cancellationToken).ConfigureAwait(false);
            foreach (string name in old)
            {
                try
                {
                    await _runtime.Js.DeleteConsumerAsync(_stream, name, cancellationToken).ConfigureAwait(false);
                }
                catch (NatsJSApiException ex) when (ex.Error.Code == 404)
                {
                    // Already gone: a former owner released it meanwhile.
                }
            }

            _consumer = await _runtime.Js.CreateOrUpdateConsumerAsync(
                _stream,
                new ConsumerConfig(_consumerName)
                {
                    AckPolicy = ConsumerConfigAckPolicy.Explicit,
                    DeliverPolicy = ConsumerConfigDeliverPolicy.All,
                    AckWait = _runtime.Options.AckWait,
                    MaxDeliver = -1,
                    MaxAckPending = _runtime.Options.MaxAckPending,
                },
                cancellationToken).ConfigureAwait(false);
            _stage = CreateStage();
            _consumeLoop = Task.Run(ConsumeLoopAsync, CancellationToken.None);
            _renewLoop = Task.Run(RenewLoopAsync, CancellationToken.None);
            _progressLoop = Task.Run(ProgressLoopAsync, CancellationToken.None);
        }
        catch (Exception ex)
        {
            Fence("starting the epoch failed: " + ex.Message);
            throw;
        }
    }

    /// <summary>The highest stream sequence earlier epochs delivered (the stored mark and every old consumer's figure), stored again when it grew.</summary>
    private async Task<ulong> CarryDeliveredMarkAsync(List<string> oldConsumers, CancellationToken cancellationToken)
    {
        string key = NatsStageNames.DeliveredMarkKey(Partition);
        NatsResult<NatsKVEntry<byte[]>> entry = await _runtime.Config.TryGetEntryAsync<byte[]>(key, cancellationToken: cancellationToken).ConfigureAwait(false);
        ulong stored = entry.Success && entry.Value.Value is { } bytes ? ulong.Parse(Encoding.ASCII.GetString(bytes), CultureInfo.InvariantCulture) : 0;
        ulong mark = stored;
        foreach (string name in oldConsumers)
        {
            try
            {
                INatsJSConsumer consumer = await _runtime.Js.GetConsumerAsync(_stream, name, cancellationToken).ConfigureAwait(false);
                mark = Math.Max(mark, consumer.Info.Delivered.StreamSeq);
            }
            catch (NatsJSApiException ex) when (ex.Error.Code == 404)
            {
                // Deleted meanwhile by a graceful release: it left nothing unacknowledged.
            }
        }

        if (mark > stored)
        {
            await _runtime.Config.PutAsync(key, Encoding.ASCII.GetBytes(mark.ToString(CultureInfo.InvariantCulture)), cancellationToken: cancellationToken).ConfigureAwait(false);
        }

        return mark;
    }

    /// <summary>
    /// Hands the partition over: stops pulling, lets the local stage finish and acknowledge what it holds
    /// (up to the drain timeout), deletes this epoch's consumer and then the lease. Idempotent; after a
    /// fence it only waits for the worker to end.
    /// </summary>
    public async Task ReleaseAsync()
    {
        if (Interlocked.Exchange(ref _releasing, 1) != 0 || IsFenced)
        {
            await Ended.ConfigureAwait(false);
            return;
        }

        try
        {
            await _pull.CancelAsync().ConfigureAwait(false);
            await _consumeLoop.ConfigureAwait(false);
            if (_stage is { } stage)
            {
                await stage.StopAsync(_runtime.Options.DrainTimeout).ConfigureAwait(false);
            }

            await Task.WhenAll(_deadLetters.Keys).ConfigureAwait(false);
            if (!IsFenced)
            {
                // Acks are fire-and-forget publishes; a round trip makes sure the server has read them
                // before the consumer goes, so a graceful handover redelivers nothing. When the drain
                // timed out, items that may have run are left unacknowledged: the consumer stays, so the
                // next owner reads how far it delivered and marks them as possibly run before.
                await _runtime.Connection.PingAsync(_life.Token).ConfigureAwait(false);
                if (_unsettled.IsEmpty)
                {
                    await _runtime.Js.DeleteConsumerAsync(_stream, _consumerName, _life.Token).ConfigureAwait(false);
                }

                await _life.CancelAsync().ConfigureAwait(false);
                await Task.WhenAll(_renewLoop, _progressLoop).ConfigureAwait(false);
                await _runtime.Owners.TryDeleteAsync(NatsStageNames.LeaseKey(Partition), new NatsKVDeleteOpts { Revision = Volatile.Read(ref _revision) }).ConfigureAwait(false);
                NatsStageLog.Released(_runtime.Logger, _runtime.Names.Stage, _member, Partition, Epoch);
            }
        }
        catch (Exception ex)
        {
            // The lease then simply expires; the next owner deletes the consumer.
            NatsStageLog.ReleaseFailed(_runtime.Logger, ex, _runtime.Names.Stage, Partition);
        }
        finally
        {
            await EndAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Stops at once: nothing more is pulled, handled or acknowledged in this epoch. What the local stage
    /// holds is abandoned; the server redelivers it to the next owner's fresh consumer. Idempotent.
    /// </summary>
    public void Fence(string reason)
    {
        if (Interlocked.Exchange(ref _fenced, 1) != 0)
        {
            return;
        }

        NatsStageLog.Fenced(_runtime.Logger, _runtime.Names.Stage, _member, Partition, Epoch, reason);
        _pull.Cancel();
        _life.Cancel();
        _ = Task.Run(async () =>
        {
            try
            {
                // The abort first: it cancels the token running handlers hold, at once, so a long run
                // learns the lease is gone and can stop writing side effects.
                ValueTask<StageCounts> abort = _stage is { } stage ? stage.AbortAsync() : default;
                await _consumeLoop.ConfigureAwait(false);
                await abort.ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                NatsStageLog.Swallowed(_runtime.Logger, ex, _runtime.Names.Stage, "aborting a local stage");
            }
            finally
            {
                await EndAsync().ConfigureAwait(false);
            }
        });
    }

    private async Task EndAsync()
    {
        if (_ended.Task.IsCompleted)
        {
            return;
        }

        await _life.CancelAsync().ConfigureAwait(false);
        try
        {
            await Task.WhenAll(_renewLoop, _progressLoop, _consumeLoop).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // The loops catch their own errors; this is only a safety net.
            NatsStageLog.Swallowed(_runtime.Logger, ex, _runtime.Names.Stage, "a partition loop");
        }

        // After the renewal loop, the only other caller of Change.
        await _lapse.DisposeAsync().ConfigureAwait(false);

        if (_ended.TrySetResult())
        {
            _onEnded();
        }
    }

    private Stage<Delivery<T>> CreateStage()
    {
        StageOptions<T> user = _runtime.Options.LocalStage;
        DedupeOptions<T>? dedupe = user.Dedupe;
        var options = new StageOptions<Delivery<T>>
        {
            Name = string.Create(CultureInfo.InvariantCulture, $"{_runtime.Names.Stage}.p{Partition}"),
            Shards = user.Shards,
            Capacity = user.Capacity,
            WorkersPerShard = user.WorkersPerShard,
            UnkeyedWorkers = user.UnkeyedWorkers,
            FullMode = StageFullMode.Wait,
            KeySelector = d => d.Key,
            Retry = user.Retry,
            Metrics = user.Metrics,
            KindSelector = user.KindSelector is { } kind ? d => kind(d.Item) : null,
            MaxKinds = user.MaxKinds,
            TimeProvider = user.TimeProvider,
            DisposeDrainTimeout = user.DisposeDrainTimeout,
            OnDeadLetter = OnDeadLetter,
            OnHandlerError = user.OnHandlerError is { } onError ? (d, failure) => onError(d.Item, failure) : null,
            MeterFactory = user.MeterFactory,
            Dedupe = dedupe is null ? null : new DedupeOptions<Delivery<T>>
            {
                Mode = dedupe.Mode,
                KeySelector = dedupe.KeySelector is { } dk ? d => dk(d.Item) : null,
                ContentHash = dedupe.ContentHash is { } hash ? d => hash(d.Item) : null,
                IsTombstone = dedupe.IsTombstone is { } tomb ? d => tomb(d.Item) : null,
                MaxTrackedKeys = dedupe.MaxTrackedKeys,
                OnSuperseded = OnSuperseded,
            },
        };
        return Stage.Create<Delivery<T>>(options, HandleAsync);
    }

    /// <summary>Pulls from this epoch's consumer into the local stage until told to stop; never throws.</summary>
    private async Task ConsumeLoopAsync()
    {
        Debug.Assert(_consumer is not null && _stage is not null, "started");
        CancellationToken token = _pull.Token;
        try
        {
            var opts = new NatsJSConsumeOpts { MaxMsgs = Math.Clamp(_runtime.Options.MaxAckPending, 1, 1000) };
            await foreach (NatsJSMsg<byte[]> message in _consumer.ConsumeAsync<byte[]>(opts: opts, cancellationToken: token).ConfigureAwait(false))
            {
                if (!HoldsLease())
                {
                    // Pulled, never run: the next owner gets it.
                    break;
                }

                ulong sequence = message.Metadata?.Sequence.Stream ?? 0;
                string messageId = message.Headers?.TryGetValue("Nats-Msg-Id", out var id) == true && id.Count > 0
                    ? id.ToString()
                    : string.Create(CultureInfo.InvariantCulture, $"{_stream}:{sequence}");
                T item;
                Engine.Routing.ItemKey key;
                try
                {
                    item = _runtime.Deserialize(message.Data ?? []);
                    key = _runtime.KeySelector(item);
                }
                catch (Exception ex)
                {
                    // A payload nobody can read would block its key for ever: dead-letter it now.
                    var poison = new Delivery<T>(default!, default, message, sequence, messageId, redelivered: false);
                    await DeadLetterAsync(poison, ex, 0).ConfigureAwait(false);
                    continue;
                }

                bool redelivered = sequence <= _deliveredBefore || (message.Metadata?.NumDelivered ?? 1) > 1;
                var delivery = new Delivery<T>(item, key, message, sequence, messageId, redelivered);
                _unsettled[sequence] = delivery;
                try
                {
                    await _stage.WriteAsync(delivery, token).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is OperationCanceledException or StageCompletedException)
                {
                    // Stopped while waiting for room: never acked, so the next owner gets it.
                    _unsettled.TryRemove(sequence, out _);
                    break;
                }
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // Stopped pulling: release or fence.
        }
        catch (Exception ex)
        {
            // The consumer vanished (a new owner deleted it) or the server refused the pull: this epoch is over.
            Fence("consuming failed: " + ex.Message);
        }
    }

    /// <summary>
    /// Renews the lease a third of its TTL after the last renewal was sent (so a slow answer does not
    /// push the next one later); the first failure fences the partition, and so does an answer that
    /// comes after the safe deadline passed (the lease may have been someone else's in between).
    /// </summary>
    private async Task RenewLoopAsync()
    {
        CancellationToken token = _life.Token;
        TimeSpan interval = _runtime.Options.LeaseTtl / 3;
        string key = NatsStageNames.LeaseKey(Partition);
        byte[] value = Encoding.UTF8.GetBytes(_member);
        long lastSent = Volatile.Read(ref _safeUntil) - _safeTicks;
        while (!token.IsCancellationRequested)
        {
            try
            {
                TimeSpan wait = interval - Stopwatch.GetElapsedTime(lastSent);
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait, token).ConfigureAwait(false);
                }

                using var attempt = CancellationTokenSource.CreateLinkedTokenSource(token);

                // A renewal slower than a third of the TTL leaves too little lease to trust: give up.
                attempt.CancelAfter(interval);
                long sent = Stopwatch.GetTimestamp();
                NatsResult<ulong> renewed = await _runtime.Owners.TryUpdateAsync(key, value, Volatile.Read(ref _revision), cancellationToken: attempt.Token).ConfigureAwait(false);
                if (!renewed.Success)
                {
                    Fence("the lease renewal was refused (" + renewed.Error.Message + ")");
                    return;
                }

                // Only a lease still held may be extended: one that lapsed meanwhile stays lapsed.
                if (!HoldsLease())
                {
                    return;
                }

                Debug.Assert(sent + _safeTicks >= Volatile.Read(ref _safeUntil), "renewals are sent one after another, so the safe deadline only moves forward");
                Volatile.Write(ref _revision, renewed.Value);
                lastSent = sent;
                Volatile.Write(ref _safeUntil, sent + _safeTicks);
                _lapse.Change(Remaining(sent + _safeTicks - _guardTicks), Timeout.InfiniteTimeSpan);
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                Fence("the lease renewal failed (" + ex.Message + ")");
                return;
            }
        }
    }

    /// <summary>Sends progress acks for everything held locally, so the server does not redeliver items that are only waiting their turn or a retry's backoff.</summary>
    private async Task ProgressLoopAsync()
    {
        CancellationToken token = _life.Token;
        TimeSpan interval = _runtime.Options.AckWait / 3;
        while (!token.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(interval, token).ConfigureAwait(false);
                foreach (Delivery<T> delivery in _unsettled.Values)
                {
                    if (!delivery.IsSettled && HoldsLease())
                    {
                        await delivery.Message.AckProgressAsync(cancellationToken: token).ConfigureAwait(false);
                    }
                }
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                NatsStageLog.Minor(_runtime.Logger, ex, _runtime.Names.Stage, "progress acks", Partition);
            }
        }
    }

    /// <summary>The local stage's handler: the user's handler, then the ack. Ack failures never reach the engine (they would make it retry a processed item).</summary>
    private async ValueTask HandleAsync(Delivery<T> delivery, ItemContext context, CancellationToken cancellationToken)
    {
        // The deadline read before the check: the run starts only if the lease is certainly held until then.
        long deadline = Volatile.Read(ref _safeUntil);
        if (!HoldsLease())
        {
            // This epoch is over (a fence, or the lease lapsed while this process was paused); the next
            // owner runs the item (it was never acked).
            Interlocked.Increment(ref _skipped);
            return;
        }

        var natsContext = new NatsItemContext(context, Partition, delivery.Sequence, delivery.MessageId, Epoch, delivery.Message.Metadata?.NumDelivered ?? 1, deadline, delivery.Redelivered);
        try
        {
            await _handler(delivery.Item, natsContext, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested && IsFinalFailure(ex, context.Attempt))
        {
            // The engine will dead-letter this run. The DLQ publish happens here, while the key is still
            // busy, so no later item of the key can be acked before this one is settled.
            await DeadLetterAsync(delivery, ex, context.Attempt).ConfigureAwait(false);
            throw;
        }

        await AckAsync(delivery).ConfigureAwait(false);
    }

    /// <summary>Whether the engine will dead-letter after this failure (mirrors its retry rule).</summary>
    private bool IsFinalFailure(Exception ex, int attempt)
    {
        if (_retry is null)
        {
            return true;
        }

        bool transient;
        try
        {
            transient = _retry.IsTransient?.Invoke(ex) ?? true;
        }
        catch (Exception)
        {
            return true;
        }

        return !transient || attempt >= _retry.MaxAttempts;
    }

    private async ValueTask AckAsync(Delivery<T> delivery)
    {
        if (!HoldsLease() || !delivery.TrySettle())
        {
            return;
        }

        _unsettled.TryRemove(delivery.Sequence, out _);
        Debug.Assert(delivery.IsSettled && !_unsettled.ContainsKey(delivery.Sequence), "a settled message is no longer kept alive by progress acks");
        try
        {
            await delivery.Message.AckAsync().ConfigureAwait(false);
            Interlocked.Increment(ref _acked);
        }
        catch (Exception ex)
        {
            // Redelivered later (after the ack wait or to the next owner): a duplicate, never a loss.
            Interlocked.Increment(ref _ackFailures);
            NatsStageLog.Minor(_runtime.Logger, ex, _runtime.Names.Stage, "an ack", Partition);
        }
    }

    /// <summary>
    /// Publishes the message to the DLQ stream with the error and attempts as headers, waits for the
    /// PubAck, then terminates it (without a reason: servers before 2.11 ignore a terminate with one).
    /// If the DLQ publish fails the message is nak'ed, so it runs again rather than vanish.
    /// </summary>
    private async Task DeadLetterAsync(Delivery<T> delivery, Exception error, int attempts)
    {
        if (!HoldsLease() || !delivery.TrySettle())
        {
            return;
        }

        _unsettled.TryRemove(delivery.Sequence, out _);
        string token = delivery.Message.Subject[(delivery.Message.Subject.LastIndexOf('.') + 1)..];
        var headers = new NatsHeaders
        {
            ["Engine-Error"] = error.GetType().FullName + ": " + Flatten(error.Message),
            ["Engine-Attempts"] = attempts.ToString(CultureInfo.InvariantCulture),
            ["Engine-Stream"] = _stream,
            ["Engine-Sequence"] = delivery.Sequence.ToString(CultureInfo.InvariantCulture),
            ["Engine-Member"] = _member,
        };
        try
        {
            await NatsStageWriter<T>.PublishAsync(_runtime, _runtime.Names.DeadLetterSubject(Partition, token), delivery.Message.Data ?? [], delivery.MessageId, headers, CancellationToken.None).ConfigureAwait(false);
            if (!HoldsLease())
            {
                // The lease lapsed during the publish: the next owner dead-letters it again, and the
                // DLQ stream's duplicate window drops the copy (same message id).
                return;
            }

            await delivery.Message.AckTerminateAsync().ConfigureAwait(false);
            Interlocked.Increment(ref _deadLettered);
        }
        catch (Exception ex)
        {
            NatsStageLog.DeadLetterFailed(_runtime.Logger, ex, _runtime.Names.Stage, _stream, delivery.Sequence);
            try
            {
                await delivery.Message.NakAsync().ConfigureAwait(false);
            }
            catch (Exception nakError)
            {
                NatsStageLog.Minor(_runtime.Logger, nakError, _runtime.Names.Stage, "a nak", Partition);
            }
        }
    }

    /// <summary>How long from now until a stopwatch timestamp (zero when it has passed).</summary>
    private static TimeSpan Remaining(long until)
    {
        long ticks = until - Stopwatch.GetTimestamp();
        return ticks <= 0 ? TimeSpan.Zero : TimeSpan.FromSeconds((double)ticks / Stopwatch.Frequency);
    }

    /// <summary>The lapse timer fired: fence if the deadline has passed, else (a renewal moved it meanwhile) wait again.</summary>
    private void OnLapseTimer()
    {
        if (Ended.IsCompleted || IsFenced)
        {
            return;
        }

        if (HoldsLease())
        {
            try
            {
                _lapse.Change(Remaining(Volatile.Read(ref _safeUntil) - _guardTicks), Timeout.InfiniteTimeSpan);
            }
            catch (ObjectDisposedException)
            {
                // Ended meanwhile.
            }
        }
    }

    /// <summary>Header values may not hold line breaks.</summary>
    private static string Flatten(string text) => text.Replace('\r', ' ').Replace('\n', ' ');

    /// <summary>The engine dead-lettered an item the handler path did not expect to: publish it now, tracked so a release waits for it.</summary>
    private void OnDeadLetter(Delivery<T> delivery, ItemFailure failure)
    {
        // The user's own callback first (the engine would have called it for a local stage); it may
        // throw, and must not stop the message from being settled.
        try
        {
            _runtime.Options.LocalStage.OnDeadLetter?.Invoke(delivery.Item, failure);
        }
        catch (Exception ex)
        {
            NatsStageLog.Swallowed(_runtime.Logger, ex, _runtime.Names.Stage, "an OnDeadLetter callback");
        }

        if (delivery.IsSettled)
        {
            return;
        }

        Task task = DeadLetterAsync(delivery, failure.Exception, failure.Attempts);
        _deadLetters[task] = 0;
        _ = task.ContinueWith(t => _deadLetters.TryRemove(t, out _), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>
    /// A newer message of the key replaced this one locally: acknowledging the old one is safe, because
    /// the newer one is still unacknowledged and would be redelivered after a crash (no lost update).
    /// </summary>
    private void OnSuperseded(Delivery<T> delivery, SupersedeReason reason)
    {
        _ = AckAsync(delivery).AsTask();
        if (_runtime.Options.LocalStage.Dedupe?.OnSuperseded is { } user)
        {
            user(delivery.Item, reason);
        }
    }
}
