using Engine.Dedupe;
using Engine.Queues;
using Engine.Retry;
using Engine.Stages;

namespace Engine.Tests.Support;

/// <summary>How a torture run ends its stage.</summary>
internal enum TortureEnding
{
    Complete,
    Stop,
    Abort,
    Dispose,
}

/// <summary>An update written by a torture run: its id, its routing key and a finer part for a finer dedupe key.</summary>
internal readonly record struct TortureItem(int Id, int Writer, int Key, int Sub, int Content, bool Tombstone);

/// <summary>
/// One seeded workload against a single stage: several writers writing updates of a few keys
/// concurrently into small shards, an asynchronous handler that sometimes yields, fails for good or
/// fails once, every dedupe shape, and one of the four endings, sometimes while writers still write.
/// What it records (write order, handler starts, every callback, the counts at the moment
/// <see cref="Stage{T}.Completion"/> completed) is for the test to check.
/// </summary>
internal sealed class StageTorture
{
    /// <summary>A large enough drain for a stop: the point is the ending, not a timeout.</summary>
    private static readonly TimeSpan Drain = TimeSpan.FromSeconds(30);

    private readonly int _seed;
    private readonly int[] _attempts;
    private int _superseded;
    private int _dropped;
    private int _deadLettered;
    private int _handlerErrors;
    private int _late;
    private Stage<TortureItem>? _stage;

    public StageTorture(int seed, StageFullMode fullMode, ShardQueue queue = ShardQueue.Runtime)
    {
        Queue = queue;
        _seed = seed;
        var random = new Random(seed);
        Shards = random.Next(1, 5);
        Workers = random.Next(1, 5);
        Capacity = random.Next(1, 4);
        Writers = random.Next(1, 5);
        Keys = random.Next(1, 20);
        PerWriter = random.Next(30, 141);
        DedupeShape = random.Next(6);
        Retries = random.Next(2) == 0 ? 1 : random.Next(2, 4);
        YieldPercent = random.Next(0, 101);
        Ending = (TortureEnding)random.Next(4);
        EndAfter = random.Next(3) == 0 ? random.Next(1, Writers * PerWriter) : -1;
        Batch = random.Next(3) == 0 ? random.Next(2, 9) : 1;
        FullMode = fullMode;
        Log = new WriteOrderLog(Writers * PerWriter);
        _attempts = new int[Writers * PerWriter];
    }

    public int Shards { get; }
    public int Workers { get; }
    public int Capacity { get; }
    public int Writers { get; }
    public int Keys { get; }
    public int PerWriter { get; }

    /// <summary>0 no dedupe; 1 replace; 2 replace with a merge; 3 replace with content hashes and deletions; 4 a finer dedupe key; 5 all of it.</summary>
    public int DedupeShape { get; }
    public int Retries { get; }
    public int YieldPercent { get; }
    public TortureEnding Ending { get; }

    /// <summary>Items per call: 1 writes with <see cref="Stage{T}.WriteAsync(T, CancellationToken)"/>, more with <see cref="Stage{T}.WriteManyAsync"/>.</summary>
    public int Batch { get; }

    /// <summary>After how many returned writes the ending starts; −1: after the last write.</summary>
    public int EndAfter { get; }
    public StageFullMode FullMode { get; }

    /// <summary>The channel the shards queue in.</summary>
    public ShardQueue Queue { get; }
    public WriteOrderLog Log { get; }

    /// <summary>The stage's counts read when its completion completed, before anything else could run.</summary>
    public StageCounts? CountsAtCompletion { get; private set; }

    /// <summary>The callbacks' own counts when the completion completed: superseded, dropped, dead-lettered, handler errors.</summary>
    public (int Superseded, int Dropped, int DeadLettered, int HandlerErrors) CallbacksAtCompletion { get; private set; }

    /// <summary>Callbacks that started when <see cref="Stage{T}.Completion"/> had already completed.</summary>
    public int LateCallbacks => Volatile.Read(ref _late);

    /// <summary>The callbacks' own counts now.</summary>
    public (int Superseded, int Dropped, int DeadLettered, int HandlerErrors) Callbacks =>
        (Volatile.Read(ref _superseded), Volatile.Read(ref _dropped), Volatile.Read(ref _deadLettered), Volatile.Read(ref _handlerErrors));

    /// <summary>The final counts.</summary>
    public StageCounts Counts { get; private set; } = new() { Accepted = 0 };

    public override string ToString() =>
        $"seed {_seed}: shards={Shards} workers={Workers} capacity={Capacity} writers={Writers} keys={Keys} perWriter={PerWriter} " +
        $"dedupe={DedupeShape} attempts={Retries} yield={YieldPercent}% ending={Ending} endAfter={EndAfter} batch={Batch} full={FullMode} queue={Queue}";

    /// <summary>Whether item <paramref name="id"/> fails for good (one in twenty).</summary>
    private static bool FailsForGood(int id) => Mix(id) % 20 == 0;

    /// <summary>Whether item <paramref name="id"/> fails once, transiently (one in six).</summary>
    private static bool FailsOnce(int id) => Mix(id) % 6 == 1;

    private static uint Mix(int id) => unchecked((uint)(id * -1640531535) >> 7);

    /// <summary>The key items are ordered by: the dedupe key where it is finer than the routing key.</summary>
    public int OrderKey(in TortureItem item) => DedupeShape >= 4 ? (item.Key * 4) + item.Sub : item.Key;

    public async Task RunAsync()
    {
        var stage = Stage.Create(BuildOptions(), HandleAsync);
        Volatile.Write(ref _stage, stage);
        Task continued = stage.Completion.ContinueWith(
            _ =>
            {
                CountsAtCompletion = stage.GetCounts();
                CallbacksAtCompletion = Callbacks;
            },
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);

        int returned = 0;
        var ending = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var writers = new Task[Writers];
        for (int w = 0; w < Writers; w++)
        {
            int writer = w;
            writers[w] = Task.Run(async () =>
            {
                var random = new Random((_seed * 31) + writer);
                var call = new List<TortureItem>(Batch);
                for (int n = 0; n < PerWriter; n += call.Count)
                {
                    call.Clear();
                    for (int i = n; i < Math.Min(PerWriter, n + Batch); i++)
                    {
                        int id = (writer * PerWriter) + i;
                        var item = new TortureItem(id, writer, random.Next(Keys), random.Next(2), random.Next(3), random.Next(12) == 0);
                        Log.WriteStarted(id, OrderKey(item), $"writer {writer}'s item {i} (id {id}, key {item.Key}.{item.Sub})");
                        call.Add(item);
                    }

                    try
                    {
                        if (Batch == 1)
                        {
                            await stage.WriteAsync(call[0]);
                        }
                        else
                        {
                            await stage.WriteManyAsync(call);
                        }
                    }
                    catch (StageCompletedException)
                    {
                        return;
                    }
                    catch (StageFullException)
                    {
                        continue;
                    }

                    foreach (TortureItem item in call)
                    {
                        Log.WriteReturned(item.Id);
                        if (Interlocked.Increment(ref returned) == EndAfter)
                        {
                            ending.TrySetResult();
                        }
                    }
                }
            });
        }

        Task allWritten = Task.WhenAll(writers);
        await Task.WhenAny(allWritten, ending.Task).Within();
        await EndAsync(stage).Within();
        await allWritten.Within();
        await continued.Within();
        Counts = stage.GetCounts();
        if (Ending != TortureEnding.Dispose)
        {
            await stage.DisposeAsync();
        }
    }

    private StageOptions<TortureItem> BuildOptions()
    {
        DedupeOptions<TortureItem>? dedupe = DedupeShape == 0 ? null : new DedupeOptions<TortureItem>
        {
            Mode = DedupeMode.Replace,
            Merge = DedupeShape is 2 or 5 ? static (_, incoming) => incoming : null,
            ContentHash = DedupeShape is 3 or 5 ? static item => (ulong)((item.Key * 16) + (item.Sub * 4) + item.Content) : null,
            IsTombstone = DedupeShape is 3 or 5 ? static item => item.Tombstone : null,
            KeySelector = DedupeShape >= 4 ? static item => (item.Key * 4) + item.Sub : null,
            OnSuperseded = (_, _) => Called(ref _superseded),
        };

        return new StageOptions<TortureItem>
        {
            Name = "torture",
            Shards = Shards,
            WorkersPerShard = Workers,
            Capacity = Capacity,
            FullMode = FullMode,
            Queue = Queue,
            KeySelector = static item => item.Key,
            Dedupe = dedupe,
            Retry = new RetryOptions { MaxAttempts = Retries, BaseDelay = TimeSpan.Zero, MaxDelay = TimeSpan.Zero, IsTransient = static ex => ex is TimeoutException },
            OnDropped = (_, _) => Called(ref _dropped),
            OnDeadLetter = (_, _) => Called(ref _deadLettered),
            OnHandlerError = (_, _) => Called(ref _handlerErrors),
        };
    }

    /// <summary>Counts a callback, and notes it when it started after the stage's completion had completed.</summary>
    private void Called(ref int counter)
    {
        if (Volatile.Read(ref _stage)?.Completion.IsCompleted == true)
        {
            Interlocked.Increment(ref _late);
        }

        Interlocked.Increment(ref counter);
    }

    private async ValueTask HandleAsync(TortureItem item, CancellationToken cancellationToken)
    {
        Log.RunStarted(item.Id);
        int attempt = Interlocked.Increment(ref _attempts[item.Id]);
        if (Mix(item.Id + attempt) % 100 < (uint)YieldPercent)
        {
            await Task.Yield();
        }

        if (FailsForGood(item.Id))
        {
            throw new InvalidOperationException("permanent");
        }

        if (attempt == 1 && FailsOnce(item.Id))
        {
            throw new TimeoutException("transient");
        }
    }

    private async Task EndAsync(Stage<TortureItem> stage)
    {
        switch (Ending)
        {
            case TortureEnding.Complete:
                stage.Complete();
                await stage.Completion;
                break;
            case TortureEnding.Stop:
                await stage.StopAsync(Drain);
                break;
            case TortureEnding.Abort:
                await stage.AbortAsync();
                break;
            default:
                await stage.DisposeAsync();
                break;
        }
    }
}
