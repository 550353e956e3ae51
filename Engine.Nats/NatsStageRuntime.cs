using System.Diagnostics.CodeAnalysis;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Engine.Dedupe;
using Engine.Routing;
using Engine.Stages;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;
using NATS.Client.KeyValueStore;

namespace Engine.Nats;

/// <summary>
/// What writers and members share once the options are validated and the server side exists: the
/// JetStream and KV contexts, the stores, the names and the (de)serialisers.
/// </summary>
internal sealed partial class NatsStageRuntime<T>
{
    private NatsStageRuntime(INatsConnection connection, NatsStageOptions<T> options, NatsStageLayout layout)
    {
        Connection = connection;
        Options = options;
        Layout = layout;
        Names = new NatsStageNames(options.Name);
        Js = new NatsJSContext(connection);
        Kv = new NatsKVContext(Js);
        KeySelector = options.KeySelector!;
        Serialize = options.Serialize ?? (item => JsonSerializer.SerializeToUtf8Bytes(item));
        Deserialize = options.Deserialize ?? (bytes => JsonSerializer.Deserialize<T>(bytes.Span)!);
        Logger = options.Logger ?? NullLogger.Instance;
    }

    public INatsConnection Connection { get; }

    public NatsStageOptions<T> Options { get; }

    public NatsStageLayout Layout { get; }

    public NatsStageNames Names { get; }

    public NatsJSContext Js { get; }

    public NatsKVContext Kv { get; }

    public Func<T, ItemKey> KeySelector { get; }

    public Func<T, byte[]> Serialize { get; }

    public Func<ReadOnlyMemory<byte>, T> Deserialize { get; }

    public ILogger Logger { get; }

    public INatsKVStore Members { get; private set; } = null!;

    public INatsKVStore Owners { get; private set; } = null!;

    /// <summary>The layout, and per partition how far earlier epochs delivered (no expiry).</summary>
    public INatsKVStore Config { get; private set; } = null!;

    public int Partitions => Layout.Partitions;

    /// <summary>Validates the options, then creates (or checks) the streams and buckets, retrying with back-off while the server does not answer.</summary>
    public static async Task<NatsStageRuntime<T>> CreateAsync(INatsConnection connection, NatsStageOptions<T> options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(options);
        NatsStageLayout layout = Validate(options);
        var runtime = new NatsStageRuntime<T>(connection, options, layout);
        TimeSpan backoff = TimeSpan.FromMilliseconds(500);
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                await runtime.EnsureAsync(cancellationToken).ConfigureAwait(false);
                return runtime;
            }
            catch (Exception ex) when (attempt < options.StartupAttempts && IsUnavailable(ex) && !cancellationToken.IsCancellationRequested)
            {
                NatsStageLog.SetupRetry(runtime.Logger, ex, options.Name, attempt, options.StartupAttempts, backoff);
                await Task.Delay(backoff, cancellationToken).ConfigureAwait(false);
                backoff *= 2;
            }
            catch (Exception ex) when (IsUnavailable(ex) && !cancellationToken.IsCancellationRequested)
            {
                throw new NatsException($"Distributed stage '{options.Name}': the NATS server did not answer after {options.StartupAttempts} attempts ({ex.Message}). Is nats-server running with -js at {connection.Opts.Url}?", ex);
            }
        }
    }

    /// <summary>Whether an exception means "the server is not there (yet)" rather than "the server said no".</summary>
    public static bool IsUnavailable(Exception ex) =>
        ex is NatsNoRespondersException or NatsNoReplyException or TimeoutException or NatsConnectionFailedException
        || (ex is NatsException && ex is not NatsJSApiException && ex is not NatsKVException)
        || (ex is OperationCanceledException);

    private async Task EnsureAsync(CancellationToken cancellationToken)
    {
        StreamConfigStorage storage = Options.MemoryStorage ? StreamConfigStorage.Memory : StreamConfigStorage.File;
        INatsKVStore config = await Kv.CreateOrUpdateStoreAsync(new NatsKVConfig(Names.ConfigBucket) { History = 1, Storage = Options.MemoryStorage ? NatsKVStorageType.Memory : NatsKVStorageType.File, NumberOfReplicas = Options.Replicas }, cancellationToken).ConfigureAwait(false);
        Config = config;
        string mine = Layout.Describe();
        NatsResult<ulong> created = await config.TryCreateAsync(NatsStageLayout.Key, Encoding.UTF8.GetBytes(mine), cancellationToken: cancellationToken).ConfigureAwait(false);
        if (!created.Success)
        {
            NatsKVEntry<byte[]> stored = await config.GetEntryAsync<byte[]>(NatsStageLayout.Key, cancellationToken: cancellationToken).ConfigureAwait(false);
            string theirs = stored.Value is null ? string.Empty : Encoding.UTF8.GetString(stored.Value);
            IReadOnlyList<string> differences = Layout.Differences(theirs);
            if (differences.Count > 0)
            {
                throw new NatsStageConfigurationException(
                    $"Distributed stage '{Options.Name}' refuses this member or writer: {string.Join("; ", differences)}. Every member and writer must use the same options.Partitions, options.LocalStage.Dedupe.Mode (Replace or not) and options.MaxMessagesPerPartition; changing them needs a drain and a new stage name.");
            }
        }

        for (int p = 0; p < Layout.Partitions; p++)
        {
            await Js.CreateOrUpdateStreamAsync(
                new StreamConfig(Names.PartitionStream(p), [Names.PartitionFilter(p)])
                {
                    Retention = StreamConfigRetention.Workqueue,
                    Storage = storage,
                    NumReplicas = Options.Replicas,
                    DuplicateWindow = Options.DuplicateWindow,
                    MaxMsgsPerSubject = Layout.LatestPerKey ? 1 : -1,
                    MaxMsgs = Layout.MaxMessagesPerPartition,
                    Discard = StreamConfigDiscard.New,
                },
                cancellationToken).ConfigureAwait(false);
        }

        await Js.CreateOrUpdateStreamAsync(
            new StreamConfig(Names.DeadLetterStream, [Names.DeadLetterFilter]) { Storage = storage, NumReplicas = Options.Replicas, DuplicateWindow = Options.DuplicateWindow },
            cancellationToken).ConfigureAwait(false);
        NatsKVStorageType kvStorage = Options.MemoryStorage ? NatsKVStorageType.Memory : NatsKVStorageType.File;
        Members = await Kv.CreateOrUpdateStoreAsync(new NatsKVConfig(Names.MembersBucket) { History = 1, MaxAge = Options.LeaseTtl, Storage = kvStorage, NumberOfReplicas = Options.Replicas }, cancellationToken).ConfigureAwait(false);
        Owners = await Kv.CreateOrUpdateStoreAsync(new NatsKVConfig(Names.OwnersBucket) { History = 1, MaxAge = Options.LeaseTtl, Storage = kvStorage, NumberOfReplicas = Options.Replicas }, cancellationToken).ConfigureAwait(false);
    }

    [SuppressMessage("Usage", "CA2208:Instantiate argument exceptions correctly", Justification = "The parameter named is the option, as in the core library's options errors.")]
    private static NatsStageLayout Validate(NatsStageOptions<T> options)
    {
        string owner = string.IsNullOrWhiteSpace(options.Name) ? "Distributed stage" : $"Distributed stage '{options.Name}'";
        static ArgumentException Invalid(string owner, string option, string problem) => new($"{owner}: {option} {problem}", option);
        if (string.IsNullOrEmpty(options.Name) || options.Name.Length > NatsStageConstants.MaxNameLength || !NamePattern().IsMatch(options.Name))
        {
            throw Invalid(owner, "options.Name", $"is required: 1 to {NatsStageConstants.MaxNameLength} letters, digits, '-' or '_' (it names streams and buckets).");
        }

        if (options.Partitions is < 1 or > NatsStageConstants.MaxPartitions)
        {
            throw Invalid(owner, "options.Partitions", $"({options.Partitions}) must be from 1 to {NatsStageConstants.MaxPartitions}.");
        }

        if (options.KeySelector is null)
        {
            throw Invalid(owner, "options.KeySelector", "is required: it routes items to partitions.");
        }

        if (options.MemberName is { } member && (member.Length == 0 || member.Length > 128 || !MemberPattern().IsMatch(member)))
        {
            throw Invalid(owner, "options.MemberName", $"('{member}') must be 1 to 128 letters, digits, '-', '_' or '='.");
        }

        if (options.LeaseTtl < NatsStageConstants.MinLeaseTtl || options.LeaseTtl > NatsStageConstants.MaxLeaseTtl)
        {
            throw Invalid(owner, "options.LeaseTtl", $"({options.LeaseTtl}) must be from {NatsStageConstants.MinLeaseTtl} to {NatsStageConstants.MaxLeaseTtl}.");
        }

        if (options.AckWait < NatsStageConstants.MinAckWait)
        {
            throw Invalid(owner, "options.AckWait", $"({options.AckWait}) must be at least {NatsStageConstants.MinAckWait}.");
        }

        if (options.MaxAckPending is < 1 or > NatsStageConstants.MaxMaxAckPending)
        {
            throw Invalid(owner, "options.MaxAckPending", $"({options.MaxAckPending}) must be from 1 to {NatsStageConstants.MaxMaxAckPending}.");
        }

        if (options.PublishTimeout <= TimeSpan.Zero)
        {
            throw Invalid(owner, "options.PublishTimeout", "must be more than zero.");
        }

        if (options.StartupAttempts is < 1 or > 100)
        {
            throw Invalid(owner, "options.StartupAttempts", $"({options.StartupAttempts}) must be from 1 to 100.");
        }

        if (options.Replicas is < 1 or > 5)
        {
            throw Invalid(owner, "options.Replicas", $"({options.Replicas}) must be from 1 to 5.");
        }

        if (options.DuplicateWindow <= TimeSpan.Zero)
        {
            throw Invalid(owner, "options.DuplicateWindow", "must be more than zero.");
        }

        if (options.MaxMessagesPerPartition is 0 or < -1)
        {
            throw Invalid(owner, "options.MaxMessagesPerPartition", $"({options.MaxMessagesPerPartition}) must be -1 (no limit) or more than zero.");
        }

        if (options.ServerFiguresInterval < TimeSpan.Zero)
        {
            throw Invalid(owner, "options.ServerFiguresInterval", "may not be negative (zero turns the refresh off).");
        }

        if (options.DrainTimeout < TimeSpan.Zero)
        {
            throw Invalid(owner, "options.DrainTimeout", "may not be negative.");
        }

        StageOptions<T> local = options.LocalStage ?? throw Invalid(owner, "options.LocalStage", "may not be null.");
        if (local.FullMode != StageFullMode.Wait)
        {
            throw Invalid(owner, "options.LocalStage.FullMode", $"({local.FullMode}) must be Wait: a local drop would lose a message the server counts as delivered.");
        }

        if (local.Dedupe?.Merge is not null)
        {
            throw Invalid(owner, "options.LocalStage.Dedupe.Merge", "is not supported by a distributed stage: a merged item stands for several messages, and no single message could be acknowledged for it.");
        }

        return new NatsStageLayout(options.Partitions, local.Dedupe?.Mode == DedupeMode.Replace, options.MaxMessagesPerPartition);
    }

    [GeneratedRegex("^[A-Za-z0-9_-]+$")]
    private static partial Regex NamePattern();

    [GeneratedRegex("^[A-Za-z0-9_=-]+$")]
    private static partial Regex MemberPattern();
}
