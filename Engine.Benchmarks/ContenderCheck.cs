using System.Diagnostics;

namespace Engine.Benchmarks;

/// <summary>
/// Runs a contender once, outside the measurement, and throws when it did not do all the work, so no
/// contender can win by skipping items (or, where order is required, by reordering them).
/// </summary>
internal static class ContenderCheck
{
    /// <summary>Runs <paramref name="run"/> once and asks <paramref name="problem"/> what, if anything, went wrong.</summary>
    /// <param name="benchmark">The benchmark class, for the message.</param>
    /// <param name="contender">The contender, for the message.</param>
    /// <param name="run">One full run of the contender's workload.</param>
    /// <param name="problem">Null when the run did all its work; otherwise what it missed.</param>
    public static void Run(string benchmark, string contender, Func<Task> run, Func<string?> problem)
    {
        long start = Stopwatch.GetTimestamp();
        run().GetAwaiter().GetResult();
        TimeSpan took = Stopwatch.GetElapsedTime(start);
        if (problem() is { } what)
        {
            throw new InvalidOperationException($"{benchmark}.{contender} skipped work: {what}");
        }

        // The time of this unmeasured run is printed only as a sanity check (it includes JIT).
        Console.WriteLine($"// check {benchmark}.{contender}: all work done, {took.TotalMilliseconds:F0} ms");
    }
}
