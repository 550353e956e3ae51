namespace Engine.Tests.Support;

/// <summary>A handler gate: handlers report that they started and wait until the test opens the gate.</summary>
internal sealed class Gate
{
    private readonly TaskCompletionSource _open = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly SemaphoreSlim _started = new(0);

    /// <summary>Called by a handler: reports the start, then waits for the gate (or the token).</summary>
    public async ValueTask PassAsync(CancellationToken cancellationToken)
    {
        _started.Release();
        await _open.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Waits until <paramref name="count"/> more handlers have started.</summary>
    public async Task StartedAsync(int count = 1)
    {
        for (int i = 0; i < count; i++)
        {
            if (!await _started.WaitAsync(TestWait.Patience).ConfigureAwait(false))
            {
                throw new TimeoutException("A handler never started.");
            }
        }
    }

    public void Open() => _open.TrySetResult();
}
