using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using Engine.Reporting;
using Microsoft.Extensions.Logging;
using NATS.Client.Core;
using NATS.Client.JetStream.Models;
using NATS.Client.KeyValueStore;

namespace Engine.Nats;

/// <summary>
/// One member process of a distributed stage: it heartbeats, takes the partitions it should own
/// (member <c>i</c> of the <c>M</c> sorted live members wants every partition <c>p</c> with
/// <c>p % M == i</c>) through leases in a KV bucket, and runs each owned partition into a local
/// <see cref="Engine.Stages.Stage{T}"/>. Create one with <see cref="NatsStage.StartMemberAsync{T}"/>;
/// leave with <see cref="LeaveAsync"/> (or dispose).
/// </summary>
/// <remarks>
/// A message is acknowledged only once the local stage has settled it (processed, dead-lettered to the
/// DLQ stream, or superseded by dedupe), so delivery is at-least-once: after a crash, what the crashed
/// member held unacknowledged runs again on the new owner, in order.
/// <para>
/// A member is an <see cref="IMetricsSource"/>: <c>reporting.Add(member)</c> puts its per-partition
/// figures (owner, epoch, handovers, pending, ack-pending, redelivered, held, acked, takeover time) in
/// every report of a <see cref="MetricsReporting"/>, under the source name <c>nats:{stage}:{member}</c>.
/// They are the figures the <c>Engine</c> meter publishes, from the same cache (server figures as of
/// the last refresh, every <see cref="NatsStageOptions{T}.ServerFiguresInterval"/>), so a report never
/// waits for the server; docs/scale-out.md lists the points. A member that has left keeps reporting
/// its last figures (owning nothing) until it is removed with <see cref="MetricsReporting.Remove"/>.
/// </para>
/// </remarks>
/// <typeparam name="T">The item type.</typeparam>
[DebuggerDisplay("Member = {MemberName}, Owned = {OwnedPartitions.Count}")]
public sealed class NatsStageMember<T> : IAsyncDisposable, INatsMemberFigures, IMetricsSource
{
    private readonly NatsStageRuntime<T> _runtime;
    private readonly Func<T, NatsItemContext, CancellationToken, ValueTask> _handler;
    private readonly ConcurrentDictionary<int, PartitionWorker<T>> _workers = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<int, PartitionRecord> _records = new();
    private readonly byte[] _memberValue;
    private readonly object _leaveLock = new();

    /// <summary>Set to wake the control loop early (a partition ended).</summary>
    private readonly SemaphoreSlim _wake = new(0, 1);
    private Task _controlLoop = Task.CompletedTask;
    private Task _figuresLoop = Task.CompletedTask;
    private Task _watchLoops = Task.CompletedTask;

    /// <summary>
    /// Each heartbeat's latest revision and when this member first saw it (by its own monotonic clock),
    /// from a watch on the heartbeat bucket. A heartbeat unchanged for a TTL belongs to a member that is
    /// gone, whether or not the server has expired the key yet (it lags by up to about one TTL).
    /// </summary>
    private readonly ConcurrentDictionary<string, Sighting> _heartbeats = new(StringComparer.Ordinal);

    /// <summary>The same for the leases: a lease unchanged for a TTL since it was first seen can be taken over with a revision-checked update.</summary>
    private readonly ConcurrentDictionary<string, Sighting> _leases = new(StringComparer.Ordinal);

    /// <summary>Lease owners and consumer figures as of the last refresh, for the meter (replaced whole by the figures loop).</summary>
    private ServerFigures _figures = new(new Dictionary<int, (string, ulong)>(), new Dictionary<int, ConsumerInfo>());
    private Task? _leaving;
    private long _leasesLost;
    private string[] _liveMembers = [];

    private NatsStageMember(NatsStageRuntime<T> runtime, string memberName, Func<T, NatsItemContext, CancellationToken, ValueTask> handler)
    {
        _runtime = runtime;
        _handler = handler;
        MemberName = memberName;
        _memberValue = Encoding.UTF8.GetBytes(memberName);
    }

    /// <summary>Raised (on a thread-pool thread) whenever this member starts or stops owning a partition.</summary>
    public event EventHandler? OwnershipChanged;

    /// <summary>This member's name.</summary>
    public string MemberName { get; }

    /// <summary>The distributed stage's name.</summary>
    public string Name => _runtime.Names.Stage;

    /// <summary>The number of partitions.</summary>
    public int Partitions => _runtime.Partitions;

    /// <summary>The partitions this member works now (leased and not being released or fenced), in order.</summary>
    public IReadOnlyList<int> OwnedPartitions =>
        [.. _workers.Values.Where(w => !w.IsFenced && !w.IsReleasing && !w.Ended.IsCompleted).Select(w => w.Partition).Order()];

    /// <summary>The live members as this member last read them, sorted.</summary>
    public IReadOnlyList<string> LiveMembers => Volatile.Read(ref _liveMembers);

    internal static async Task<NatsStageMember<T>> StartAsync(NatsStageRuntime<T> runtime, Func<T, NatsItemContext, CancellationToken, ValueTask> handler, CancellationToken cancellationToken)
    {
        string name = runtime.Options.MemberName ?? $"{Sanitize(Environment.MachineName)}-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..6]}";
        var member = new NatsStageMember<T>(runtime, name, handler);
        await runtime.Members.PutAsync(name, member._memberValue, cancellationToken: cancellationToken).ConfigureAwait(false);
        member._controlLoop = Task.Run(member.ControlLoopAsync, CancellationToken.None);
        member._figuresLoop = Task.Run(member.FiguresLoopAsync, CancellationToken.None);
        member._watchLoops = Task.WhenAll(
            Task.Run(() => member.WatchLoopAsync(runtime.Members, member._heartbeats, wakeOnDelete: false), CancellationToken.None),
            Task.Run(() => member.WatchLoopAsync(runtime.Owners, member._leases, wakeOnDelete: true), CancellationToken.None));
        NatsStageMeter.Register(member);
        NatsStageLog.Joined(runtime.Logger, runtime.Names.Stage, name);
        return member;
    }

    /// <summary>
    /// Leaves gracefully: stops taking partitions, removes the heartbeat (so the others rebalance at
    /// once), and releases every owned partition (stop pulling, finish and acknowledge what is held, delete
    /// the epoch's consumer and the lease). Idempotent; later calls return the same task.
    /// </summary>
    /// <returns>A task that completes when every partition has been released or fenced.</returns>
    public Task LeaveAsync()
    {
        lock (_leaveLock)
        {
            return _leaving ??= LeaveCoreAsync();
        }
    }

    /// <summary>Leaves gracefully (see <see cref="LeaveAsync"/>).</summary>
    /// <returns>A task that completes when the member has left.</returns>
    public async ValueTask DisposeAsync() => await LeaveAsync().ConfigureAwait(false);

    /// <summary>
    /// Reads the stage's per-partition figures: owner and epoch from the lease bucket for every partition,
    /// and for the partitions owned here the consumer's pending, ack-pending and redelivered counts from
    /// the server and the local stage's counts. Server calls that fail leave their figures at -1.
    /// </summary>
    /// <param name="cancellationToken">Stops reading.</param>
    /// <returns>The snapshot.</returns>
    public async Task<NatsStageSnapshot> GetSnapshotAsync(CancellationToken cancellationToken = default)
    {
        ServerFigures figures = await ReadServerFiguresAsync(cancellationToken).ConfigureAwait(false);
        return new NatsStageSnapshot
        {
            Stage = Name,
            Member = MemberName,
            LiveMembers = LiveMembers,
            Partitions = BuildPartitions(figures),
            LeasesLost = Interlocked.Read(ref _leasesLost),
        };
    }

    string INatsMemberFigures.StageName => Name;

    long INatsMemberFigures.OwnedCount => OwnedPartitions.Count;

    long INatsMemberFigures.LeasesLost => Interlocked.Read(ref _leasesLost);

    IReadOnlyList<NatsPartitionSnapshot> INatsMemberFigures.CachedPartitions() => BuildPartitions(Volatile.Read(ref _figures));

    string IMetricsSource.Name => NatsMemberPoints.SourceName(this);

    void IMetricsSource.WritePoints(MetricPointWriter points) => NatsMemberPoints.Write(this, points);

    /// <summary>Reads the server figures now and replaces the cache the meter and reports read (what the figures loop does on its schedule).</summary>
    internal async Task RefreshServerFiguresAsync(CancellationToken cancellationToken) =>
        Volatile.Write(ref _figures, await ReadServerFiguresAsync(cancellationToken).ConfigureAwait(false));

    private async Task<ServerFigures> ReadServerFiguresAsync(CancellationToken cancellationToken)
    {
        var owners = new Dictionary<int, (string Owner, ulong Revision)>();
        var consumers = new Dictionary<int, ConsumerInfo>();
        try
        {
            for (int p = 0; p < Partitions; p++)
            {
                NatsResult<NatsKVEntry<byte[]>> entry = await _runtime.Owners.TryGetEntryAsync<byte[]>(NatsStageNames.LeaseKey(p), cancellationToken: cancellationToken).ConfigureAwait(false);
                if (entry.Success && entry.Value.Value is { } value)
                {
                    owners[p] = (Encoding.UTF8.GetString(value), entry.Value.Revision);
                }
            }
        }
        catch (Exception ex) when (ex is NatsException or OperationCanceledException)
        {
            // Owners stay unknown in this snapshot.
        }

        foreach (PartitionWorker<T> worker in _workers.Values)
        {
            if (await worker.ReadConsumerAsync(cancellationToken).ConfigureAwait(false) is { } info)
            {
                consumers[worker.Partition] = info;
            }
        }

        return new ServerFigures(owners, consumers);
    }

    private List<NatsPartitionSnapshot> BuildPartitions(ServerFigures figures)
    {
        var partitions = new List<NatsPartitionSnapshot>(Partitions);
        for (int p = 0; p < Partitions; p++)
        {
            _workers.TryGetValue(p, out PartitionWorker<T>? worker);
            bool owned = worker is { IsFenced: false, IsReleasing: false } && !worker.Ended.IsCompleted;
            ConsumerInfo? info = owned && figures.Consumers.TryGetValue(p, out ConsumerInfo? i) ? i : null;
            _records.TryGetValue(p, out PartitionRecord? record);
            partitions.Add(new NatsPartitionSnapshot
            {
                Partition = p,
                Owner = figures.Owners.TryGetValue(p, out var o) ? o.Owner : null,
                OwnedHere = owned,
                Epoch = owned ? worker!.Epoch : 0,
                Handovers = record?.Acquisitions ?? 0,
                LastTakeover = record?.LastTakeover,
                Pending = info is null ? -1 : (long)info.NumPending,
                AckPending = info?.NumAckPending ?? -1,
                Redelivered = info?.NumRedelivered ?? -1,
                Acked = (record?.Acked ?? 0) + (worker is { Ended.IsCompleted: false } ? worker.Acked : 0),
                DeadLettered = (record?.DeadLettered ?? 0) + (worker is { Ended.IsCompleted: false } ? worker.DeadLettered : 0),
                HeldLocally = owned ? worker!.Unsettled : 0,
                Local = owned ? worker!.LocalCounts : default,
            });
        }

        return partitions;
    }

    /// <summary>Refreshes the cached server figures for the meter; never throws.</summary>
    private async Task FiguresLoopAsync()
    {
        TimeSpan interval = _runtime.Options.ServerFiguresInterval;
        if (interval <= TimeSpan.Zero)
        {
            return;
        }

        CancellationToken token = _stop.Token;
        using var timer = new PeriodicTimer(interval);
        try
        {
            while (await timer.WaitForNextTickAsync(token).ConfigureAwait(false))
            {
                try
                {
                    await RefreshServerFiguresAsync(token).ConfigureAwait(false);
                }
                catch (Exception ex) when (!token.IsCancellationRequested)
                {
                    NatsStageLog.Swallowed(_runtime.Logger, ex, Name, "refreshing server figures");
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Left.
        }
    }

    /// <summary>
    /// Records when each revision of a bucket's keys was first seen here; never throws, resumes after a
    /// failure. A released lease (a delete) wakes the control loop, so a rebalance does not wait a tick.
    /// </summary>
    private async Task WatchLoopAsync(INatsKVStore store, ConcurrentDictionary<string, Sighting> sightings, bool wakeOnDelete)
    {
        CancellationToken token = _stop.Token;
        while (!token.IsCancellationRequested)
        {
            try
            {
                await foreach (NatsKVEntry<byte[]> entry in store.WatchAsync<byte[]>(opts: new NatsKVWatchOpts { MetaOnly = true }, cancellationToken: token).ConfigureAwait(false))
                {
                    bool deleted = entry.Operation != NatsKVOperation.Put;
                    sightings.AddOrUpdate(
                        entry.Key,
                        static (_, e) => new Sighting(e.Revision, Stopwatch.GetTimestamp(), e.Deleted),
                        static (_, old, e) => old.Revision == e.Revision ? old : new Sighting(e.Revision, Stopwatch.GetTimestamp(), e.Deleted),
                        (entry.Revision, Deleted: deleted));
                    if (deleted && wakeOnDelete)
                    {
                        Wake();
                    }
                }
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                NatsStageLog.Swallowed(_runtime.Logger, ex, Name, "watching " + store.Bucket);
            }

            try
            {
                await Task.Delay(_runtime.Options.LeaseTtl / 3, token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Whether a key's latest revision seen here has stood unchanged for a lease TTL by this member's clock (so its writer stopped renewing it).</summary>
    private bool IsStale(ConcurrentDictionary<string, Sighting> sightings, string key, out ulong revision)
    {
        if (sightings.TryGetValue(key, out Sighting? seen) && !seen.Deleted && Stopwatch.GetElapsedTime(seen.Since) >= _runtime.Options.LeaseTtl)
        {
            revision = seen.Revision;
            return true;
        }

        revision = 0;
        return false;
    }

    private static string Sanitize(string text)
    {
        var builder = new StringBuilder(text.Length);
        foreach (char c in text)
        {
            builder.Append(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' ? c : '-');
        }

        return builder.Length == 0 ? "member" : builder.ToString();
    }

    private async Task LeaveCoreAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(_controlLoop, _figuresLoop, _watchLoops).ConfigureAwait(false);
        try
        {
            await _runtime.Members.DeleteAsync(MemberName).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NatsException or OperationCanceledException)
        {
            // The heartbeat expires on its own.
            NatsStageLog.Swallowed(_runtime.Logger, ex, Name, "removing the heartbeat");
        }

        await Task.WhenAll(_workers.Values.Select(w => w.ReleaseAsync())).ConfigureAwait(false);
        foreach (PartitionWorker<T> worker in _workers.Values)
        {
            Retire(worker);
        }

        _workers.Clear();
        NatsStageMeter.Unregister(this);
        NatsStageLog.Left(_runtime.Logger, Name, MemberName);
    }

    /// <summary>Reconciles every third of the lease TTL, or at once when a partition ended; never throws.</summary>
    private async Task ControlLoopAsync()
    {
        CancellationToken token = _stop.Token;
        TimeSpan interval = _runtime.Options.LeaseTtl / 3;
        while (!token.IsCancellationRequested)
        {
            try
            {
                await ReconcileAsync(token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // The server may be away; owned partitions fence themselves if their leases cannot be renewed.
                NatsStageLog.ReconcileFailed(_runtime.Logger, ex, Name, MemberName);
            }

            try
            {
                await _wake.WaitAsync(interval, token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task ReconcileAsync(CancellationToken token)
    {
        using var attempt = CancellationTokenSource.CreateLinkedTokenSource(token);
        attempt.CancelAfter(_runtime.Options.LeaseTtl);
        await _runtime.Members.PutAsync(MemberName, _memberValue, cancellationToken: attempt.Token).ConfigureAwait(false);
        var live = new List<string>();
        await foreach (string key in _runtime.Members.GetKeysAsync(cancellationToken: attempt.Token).ConfigureAwait(false))
        {
            // A heartbeat the server still holds but that nobody renewed for a TTL is a member gone.
            if (key == MemberName || !IsStale(_heartbeats, key, out _))
            {
                live.Add(key);
            }
        }

        if (!live.Contains(MemberName, StringComparer.Ordinal))
        {
            live.Add(MemberName);
        }

        live.Sort(StringComparer.Ordinal);
        Volatile.Write(ref _liveMembers, [.. live]);
        int index = live.IndexOf(MemberName);
        int count = live.Count;
        Debug.Assert(index >= 0 && index < count, "this member is always among the live members it computes its share with");

        foreach ((int partition, PartitionWorker<T> worker) in _workers)
        {
            if (worker.Ended.IsCompleted)
            {
                _workers.TryRemove(partition, out _);
                Retire(worker);
            }
            else if (partition % count != index && !worker.IsReleasing && !worker.IsFenced)
            {
                _ = worker.ReleaseAsync();
                OnOwnershipChanged();
            }
        }

        for (int p = index; p < Partitions; p += count)
        {
            if (token.IsCancellationRequested)
            {
                return;
            }

            if (_workers.ContainsKey(p))
            {
                continue;
            }

            PartitionRecord record = _records.GetOrAdd(p, _ => new PartitionRecord());
            // The lease is certainly ours from when the request was sent (the server stores it later), so
            // the safe deadline counts from here.
            string leaseKey = NatsStageNames.LeaseKey(p);
            long sent = Stopwatch.GetTimestamp();
            NatsResult<ulong> lease = await _runtime.Owners.TryCreateAsync(leaseKey, _memberValue, cancellationToken: attempt.Token).ConfigureAwait(false);
            if (!lease.Success && IsStale(_leases, leaseKey, out ulong staleRevision))
            {
                // The holder has not renewed for a TTL since this member saw its revision, and it saw it
                // after the holder sent it: the holder's safe deadline has passed, whatever the server's
                // expiry says. The update succeeds only if that revision is still the latest.
                sent = Stopwatch.GetTimestamp();
                lease = await _runtime.Owners.TryUpdateAsync(leaseKey, _memberValue, staleRevision, cancellationToken: attempt.Token).ConfigureAwait(false);
            }

            if (!lease.Success)
            {
                // Held by another member: it releases it (rebalance) or its lease expires (crash).
                record.WantedSince ??= Stopwatch.GetTimestamp();
                continue;
            }

            var worker = new PartitionWorker<T>(_runtime, MemberName, p, lease.Value, sent, _handler, Wake);
            _workers[p] = worker;
            try
            {
                await worker.StartAsync(attempt.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (!token.IsCancellationRequested)
            {
                NatsStageLog.StartFailed(_runtime.Logger, ex, Name, MemberName, p);
                continue;
            }

            record.Acquisitions++;
            record.LastTakeover = record.WantedSince is { } since ? Stopwatch.GetElapsedTime(since) : TimeSpan.Zero;
            record.WantedSince = null;
            NatsStageLog.Acquired(_runtime.Logger, Name, MemberName, p, lease.Value, record.LastTakeover);
            OnOwnershipChanged();
        }
    }

    /// <summary>Folds an ended worker's counts into its partition's record.</summary>
    private void Retire(PartitionWorker<T> worker)
    {
        PartitionRecord record = _records.GetOrAdd(worker.Partition, _ => new PartitionRecord());
        record.Acked += worker.Acked;
        record.DeadLettered += worker.DeadLettered;
        if (worker.IsFenced)
        {
            Interlocked.Increment(ref _leasesLost);
        }
    }

    private void Wake()
    {
        OnOwnershipChanged();
        try
        {
            if (_wake.CurrentCount == 0)
            {
                _wake.Release();
            }
        }
        catch (SemaphoreFullException)
        {
            // Already awake.
        }
        catch (ObjectDisposedException)
        {
            // Left.
        }
    }

    private void OnOwnershipChanged()
    {
        try
        {
            OwnershipChanged?.Invoke(this, EventArgs.Empty);
        }
        catch (Exception ex)
        {
            NatsStageLog.Swallowed(_runtime.Logger, ex, Name, "an OwnershipChanged handler");
        }
    }

    /// <summary>A key's revision, when this member first saw it (stopwatch timestamp), and whether it was a delete or purge.</summary>
    private sealed record Sighting(ulong Revision, long Since, bool Deleted);

    /// <summary>Lease owners (with revisions) and owned consumers' info, read together.</summary>
    private sealed record ServerFigures(Dictionary<int, (string Owner, ulong Revision)> Owners, Dictionary<int, ConsumerInfo> Consumers);

    /// <summary>What this member remembers about a partition across its epochs (mutated by the control loop only).</summary>
    private sealed class PartitionRecord
    {
        public long Acquisitions { get; set; }

        public long? WantedSince { get; set; }

        public TimeSpan? LastTakeover { get; set; }

        public long Acked { get; set; }

        public long DeadLettered { get; set; }
    }
}
