namespace Engine.Tests.Support;

/// <summary>
/// A safety net for awaits in tests: a bug that loses a signal fails the test with a message instead
/// of hanging the run. No test asserts on how long anything took.
/// </summary>
internal static class TestWait
{
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    public static Task Within(this Task task) => task.WaitAsync(Patience);

    public static Task<T> Within<T>(this Task<T> task) => task.WaitAsync(Patience);

    public static Task Within(this ValueTask task) => task.AsTask().WaitAsync(Patience);

    public static Task<T> Within<T>(this ValueTask<T> task) => task.AsTask().WaitAsync(Patience);

    /// <summary>
    /// Waits, yielding (never sleeping), until a state that has no event of its own is reached, such as
    /// "every channel is at its bound". Fails with <paramref name="what"/> if it never is.
    /// </summary>
    public static async Task UntilAsync(Func<bool> condition, string what)
    {
        long deadline = Environment.TickCount64 + (long)Patience.TotalMilliseconds;
        while (!condition())
        {
            if (Environment.TickCount64 > deadline)
            {
                Assert.Fail("never reached: " + what);
            }

            await Task.Yield();
        }
    }
}
