using System.Threading.Channels;
using Engine.Internal;
using Engine.Stages;

namespace Engine.Pipelines.Nodes;

/// <summary>
/// A sink that hands items to a user's <see cref="ChannelWriter{T}"/> (read them with
/// <c>ReadAllAsync()</c> for an <see cref="IAsyncEnumerable{T}"/>). Writing waits while that channel is
/// full, so a slow consumer back-pressures the pipeline. The writer is completed when the sink completes.
/// </summary>
internal sealed class ChannelSinkNode<T> : Node, ITarget<T>
{
    /// <inheritdoc/>
    public bool StampsEntry => false;

    private readonly ChannelWriter<T> _writer;
    private readonly bool _completeWriter;
    private readonly ChannelWrite _waitingWrites = new();
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _accepted;
    private long _refused;
    private int _aborted;

    public ChannelSinkNode(string name, PipelineRuntime runtime, ChannelWriter<T> writer, bool completeWriter)
        : base(name, runtime)
    {
        _writer = writer;
        _completeWriter = completeWriter;
    }

    public override bool IsSink => true;

    public override Task Completion => _completion.Task;

    Node ITarget<T>.Node => this;

    public override void Start() => OwnMetrics = new NodeMetrics(this);

    /// <remarks>The user's channel takes items only: what the item carries of its trace ends here.</remarks>
    public async ValueTask WriteAsync(T item, long entryTimestamp, object? trace, CancellationToken cancellationToken)
    {
        if (_completion.Task.IsCompleted)
        {
            Interlocked.Increment(ref _refused);
            throw new StageCompletedException($"Channel sink '{Name}' is completed; the item was not accepted.");
        }

        // Not WriteAsync(item, token): on a bounded channel a cancelled write can still deliver its item.
        if (!await _waitingWrites.WriteAsync(_writer, item, cancellationToken).ConfigureAwait(false))
        {
            Interlocked.Increment(ref _refused);
            throw new StageCompletedException($"Channel sink '{Name}': its channel was completed; the item was not accepted.");
        }

        Interlocked.Increment(ref _accepted);
    }

    public override void Complete()
    {
        if (_completeWriter)
        {
            _writer.TryComplete();
        }

        _completion.TrySetResult();
    }

    public override ValueTask AbortAsync()
    {
        if (Interlocked.Exchange(ref _aborted, 1) == 0)
        {
            if (_completeWriter)
            {
                _writer.TryComplete(new OperationCanceledException($"Pipeline '{Runtime.Name}' was aborted."));
            }

            _completion.TrySetCanceled();
        }

        return default;
    }

    public override StageCounts GetCounts()
    {
        long accepted = Volatile.Read(ref _accepted);
        return new StageCounts { Accepted = accepted, Processed = accepted, Refused = Volatile.Read(ref _refused) };
    }
}
