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
}
