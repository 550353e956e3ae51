namespace Engine.Nats.Tests.Support;

/// <summary>
/// A safety net for awaits in tests: a lost signal fails the test with a message instead of hanging the
/// run. Waits are on events (TaskCompletionSource); no test asserts on how long something took except
/// against a generous bound stated in the test.
/// </summary>
internal static class TestWait
{
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    public static Task Within(this Task task) => task.WaitAsync(Patience);

    public static Task<T> Within<T>(this Task<T> task) => task.WaitAsync(Patience);

    /// <summary>
    /// Completes when <paramref name="condition"/> holds, re-checked whenever <paramref name="subscribe"/>'s
    /// event fires; fails with <paramref name="what"/> after <see cref="Patience"/>.
    /// </summary>
    public static async Task UntilAsync(Func<bool> condition, Action<EventHandler> subscribe, Action<EventHandler> unsubscribe, string what)
    {
        var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void Check(object? sender, EventArgs e)
        {
            if (condition())
            {
                reached.TrySetResult();
            }
        }

        subscribe(Check);
        try
        {
            Check(null, EventArgs.Empty);
            try
            {
                await reached.Task.WaitAsync(Patience);
            }
            catch (TimeoutException)
            {
                Assert.Fail("never reached: " + what);
            }
        }
        finally
        {
            unsubscribe(Check);
        }
    }

    /// <summary>
    /// Repeats <paramref name="attempt"/> (each one a real round trip, such as running a status program)
    /// until <paramref name="done"/> holds for its result, and returns that result; fails with
    /// <paramref name="what"/> and the last result after <see cref="Patience"/>. No sleeping between
    /// attempts: the attempt itself takes its time.
    /// </summary>
    public static async Task<T> PollAsync<T>(Func<Task<T>> attempt, Func<T, bool> done, string what)
    {
        long deadline = Environment.TickCount64 + (long)Patience.TotalMilliseconds;
        while (true)
        {
            T result = await attempt();
            if (done(result))
            {
                return result;
            }

            if (Environment.TickCount64 > deadline)
            {
                Assert.Fail($"never reached: {what}; last: {result}");
            }

            await Task.Yield();
        }
    }
}
