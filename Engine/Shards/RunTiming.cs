namespace Engine.Shards;

/// <summary>
/// How a worker loop reads the clock for its runs (metrics on). Reading the clock costs about as
/// much as a trivial handler, so a loop whose runs are that fast times them in groups.
/// </summary>
/// <remarks>
/// <para>
/// Timed one by one (the default), each run costs one clock read: its end, which is the next run's
/// start. After <see cref="FastRunsToGroup"/> runs in a row each shorter than a quarter of a
/// microsecond, the loop times groups of up to <see cref="GroupSize"/> runs with one read at the
/// group's end. In a shard with one worker, a loop that ended timing in groups hands that on to the
/// next loop (<c>Shard.StartTiming</c>): a worker that drains a few items and exits, over and over,
/// then pays a clock read per group and one per drain rather than one or two per run.
/// </para>
/// <para>
/// What stays exact: counts, busy time (a group's span), and the work histogram whenever a group took
/// less than a microsecond, its resolution: every run of such a group took less, so each is
/// recorded as individual timing would record it. A group that took longer is recorded with its
/// whole span as one run and the others as zero (sum and count exact, the maximum an upper bound,
/// never understated), and the loop goes back to timing runs one by one. Inside a group, queue wait
/// and end-to-end latency are read at the group's start: short by less than the group's span.
/// </para>
/// <para>
/// An asynchronous handler's run that completes at once is timed like a synchronous one. One that
/// waits ends the group at once (its earlier runs recorded as above) and is timed alone from there,
/// so what it did before it started waiting counts to the group; the loop then times runs one by one.
/// While a loop times groups, the shard's writers stamp items with the loop's last clock read
/// instead of reading the clock (<c>Shard.AcceptStamp</c>).
/// </para>
/// </remarks>
internal struct RunTiming
{
    /// <summary>The most runs timed together.</summary>
    public const int GroupSize = 4;

    /// <summary>Runs in a row under <see cref="FastRunTicks"/> before the loop times groups.</summary>
    public const int FastRunsToGroup = 16;

    /// <summary>Whether runs are timed in groups.</summary>
    public bool Grouped;

    /// <summary>Runs in the group so far.</summary>
    public int Runs;

    /// <summary>When the group started.</summary>
    public long Start;

    /// <summary>Runs in a row timed one by one under <see cref="FastRunTicks"/>.</summary>
    public int FastStreak;

    /// <summary>Clock ticks in a microsecond (at least 1): a group faster than this is recorded exactly.</summary>
    public static long ExactGroupTicks(long frequency) => Math.Max(1, frequency / 1_000_000);

    /// <summary>Clock ticks under which a run counts as fast (a quarter of a microsecond, at least 1).</summary>
    public static long FastRunTicks(long frequency) => Math.Max(1, frequency / 4_000_000);
}
