namespace Engine.Pipelines.Nodes;

/// <summary>
/// The output side of a node: the targets its outputs go to. With several targets (broadcast) every
/// output goes to each of them in turn, so a slow branch holds the others back rather than losing items.
/// </summary>
internal sealed class Outlet<T>
{
    private readonly Node _owner;
    private readonly bool _faultOnArgumentError;
    private ITarget<T>[] _targets = [];

    /// <param name="owner">The node whose outputs these are.</param>
    /// <param name="faultOnArgumentError">
    /// Whether a downstream <see cref="ArgumentException"/> faults the pipeline (inside the pipeline
    /// nobody else could handle it); the source passes it to the caller of <c>WriteAsync</c> instead.
    /// </param>
    public Outlet(Node owner, bool faultOnArgumentError = true)
    {
        _owner = owner;
        _faultOnArgumentError = faultOnArgumentError;
    }

    public int Count => _targets.Length;

    /// <summary>Whether the one target stamps an item's entry itself (see <see cref="ITarget{T}.StampsEntry"/>).</summary>
    public bool TargetStampsEntry => _targets is [{ StampsEntry: true }];

    public void Link(ITarget<T> target)
    {
        _targets = [.. _targets, target];
        _owner.Downstream.Add(target.Node);
        target.Node.Upstream.Add(_owner);
    }

    /// <summary>Forwards one output to every target, waiting for room in each; every branch carries the same <paramref name="trace"/>.</summary>
    public ValueTask ForwardAsync(T item, long entryTimestamp, object? trace, CancellationToken cancellationToken)
    {
        ITarget<T>[] targets = _targets;
        if (targets.Length != 1)
        {
            return ForwardAllAsync(targets, item, entryTimestamp, trace, cancellationToken);
        }

        ValueTask write;
        try
        {
            write = targets[0].WriteAsync(item, entryTimestamp, trace, cancellationToken);
        }
        catch (ArgumentException ex) when (_faultOnArgumentError)
        {
            throw Fault(targets[0].Node, ex);
        }
        catch (Exception ex) when (_faultOnArgumentError && ex is not OperationCanceledException)
        {
            throw new ForwardException(_owner.Name, targets[0].Node.Name, ex);
        }

        return write.IsCompletedSuccessfully ? default : WatchAsync(write, targets[0].Node);
    }

    private async ValueTask ForwardAllAsync(ITarget<T>[] targets, T item, long entryTimestamp, object? trace, CancellationToken cancellationToken)
    {
        foreach (ITarget<T> target in targets)
        {
            ValueTask write;
            try
            {
                write = target.WriteAsync(item, entryTimestamp, trace, cancellationToken);
            }
            catch (ArgumentException ex) when (_faultOnArgumentError)
            {
                throw Fault(target.Node, ex);
            }
            catch (Exception ex) when (_faultOnArgumentError && ex is not OperationCanceledException)
            {
                throw new ForwardException(_owner.Name, target.Node.Name, ex);
            }

            await WatchAsync(write, target.Node).ConfigureAwait(false);
        }
    }

    private async ValueTask WatchAsync(ValueTask write, Node target)
    {
        try
        {
            await write.ConfigureAwait(false);
        }
        catch (ArgumentException ex) when (_faultOnArgumentError)
        {
            throw Fault(target, ex);
        }
        catch (Exception ex) when (_faultOnArgumentError && ex is not OperationCanceledException)
        {
            throw new ForwardException(_owner.Name, target.Name, ex);
        }
    }

    /// <summary>
    /// An <see cref="ArgumentException"/> from a downstream write is a defect of the pipeline (a key
    /// selector or dedupe function that throws), not of this item: it faults the whole pipeline, and
    /// the item in hand is abandoned by the abort that follows rather than dead-lettered.
    /// </summary>
    private OperationCanceledException Fault(Node target, ArgumentException error)
    {
        _owner.Runtime.Fault(target, error);
        return new OperationCanceledException($"Pipeline '{_owner.Runtime.Name}' faulted: stage '{target.Name}' could not take an item from '{_owner.Name}'.", error);
    }
}
