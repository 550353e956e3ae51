using System.Threading.Channels;
using Engine.Reporting;

namespace Engine.Tests.Reporting;

/// <summary>
/// A reporter for scheduler tests: hands every report to the test, and can be told to throw or to
/// hang (ignoring its token) on a flush. Tracks how many flushes ran at once.
/// </summary>
internal sealed class RecordingReporter : IMetricsReporter, IDisposable
{
    private readonly Channel<MetricsReport> _reports = Channel.CreateUnbounded<MetricsReport>();
    private int _running;

    public RecordingReporter(string name, TimeSpan interval)
    {
        Name = name;
        FlushInterval = interval;
    }

    public string Name { get; }

    public TimeSpan FlushInterval { get; }

    /// <summary>When set, every flush throws this.</summary>
    public Exception? Throw { get; set; }

    /// <summary>When set, a flush waits for it (without observing its token) before returning.</summary>
    public TaskCompletionSource? Hold { get; set; }

    /// <summary>Completes when a flush's token is cancelled.</summary>
    public TaskCompletionSource Cancelled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes when a flush starts.</summary>
    public TaskCompletionSource Started { get; private set; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public int MaxConcurrent { get; private set; }

    public bool Disposed { get; private set; }

    /// <summary>Whether the reporter was disposed while one of its flushes still ran.</summary>
    public bool DisposedWhileFlushing { get; private set; }

    public Task<MetricsReport> NextAsync() => _reports.Reader.ReadAsync().AsTask().WaitAsync(Support.TestWait.Patience);

    public bool TryNext(out MetricsReport? report) => _reports.Reader.TryRead(out report);

    public async ValueTask FlushAsync(MetricsReport report, CancellationToken cancellationToken)
    {
        int running = Interlocked.Increment(ref _running);
        MaxConcurrent = Math.Max(MaxConcurrent, running);
        cancellationToken.Register(() => Cancelled.TrySetResult());
        TaskCompletionSource started = Started;
        Started = new(TaskCreationOptions.RunContinuationsAsynchronously);
        started.TrySetResult();
        try
        {
            if (Hold is { } hold)
            {
                await hold.Task.ConfigureAwait(false);
            }

            if (Throw is { } exception)
            {
                throw exception;
            }

            _reports.Writer.TryWrite(report);
        }
        finally
        {
            Interlocked.Decrement(ref _running);
        }
    }

    public void Dispose()
    {
        DisposedWhileFlushing |= Volatile.Read(ref _running) > 0;
        Disposed = true;
    }
}
