using System.Diagnostics;
using Engine.Internal;

namespace Engine.Windows;

/// <summary>
/// The shape of a keyed window step: when a window opens, when it must close, and whether a count
/// closes it. Times are UTC ticks of the pipeline's <see cref="TimeProvider.GetUtcNow"/>, so a fake
/// clock moves windows exactly.
/// </summary>
[DebuggerDisplay("{Kind}: Length = {Length}, Gap = {Gap}, MaxItems = {MaxItems}")]
internal sealed class WindowSpec
{
    private WindowSpec(WindowKind kind, TimeSpan length, TimeSpan gap, int maxItems)
    {
        Kind = kind;
        Length = length;
        Gap = gap;
        MaxItems = maxItems;
    }

    public WindowKind Kind { get; }

    /// <summary>A tumbling window's length, a session's maximum length, a batch's longest wait.</summary>
    public TimeSpan Length { get; }

    /// <summary>A session's gap (zero for the others).</summary>
    public TimeSpan Gap { get; }

    /// <summary>A batch's size (zero for the others: no count closes them).</summary>
    public int MaxItems { get; }

    public static WindowSpec Tumbling(TimeSpan length) => new(WindowKind.Tumbling, length, TimeSpan.Zero, 0);

    public static WindowSpec Session(TimeSpan gap, TimeSpan maxLength) => new(WindowKind.Session, maxLength, gap, 0);

    public static WindowSpec Batch(int size, TimeSpan maxWait) => new(WindowKind.Batch, maxWait, TimeSpan.Zero, size);

    /// <summary>Throws an <see cref="ArgumentException"/> naming the stage and the option when the shape cannot work.</summary>
    public void Validate(string stage)
    {
        switch (Kind)
        {
            case WindowKind.Tumbling:
                Positive(stage, "length", Length);
                break;
            case WindowKind.Session:
                Positive(stage, "gap", Gap);
                Positive(stage, "maxLength", Length);
                if (Gap > Length)
                {
                    throw OptionsValidation.Invalid(Owner(stage), "gap", $"({Gap}) may not be longer than maxLength ({Length}).");
                }

                break;
            default:
                if (MaxItems < 1)
                {
                    throw OptionsValidation.Invalid(Owner(stage), "size", $"({MaxItems}) must be at least 1.");
                }

                Positive(stage, "maxWait", Length);
                break;
        }
    }

    /// <summary>Where a window opened at <paramref name="now"/> starts: aligned for a tumbling window, else now.</summary>
    public long StartOf(long now) => Kind == WindowKind.Tumbling ? now - (now % Length.Ticks) : now;

    /// <summary>When a window that opened at <paramref name="start"/> and last folded an item at <paramref name="lastAt"/> must close.</summary>
    public long DeadlineOf(long start, long lastAt) =>
        Kind == WindowKind.Session ? Math.Min(lastAt + Gap.Ticks, start + Length.Ticks) : start + Length.Ticks;

    private static void Positive(string stage, string option, TimeSpan value)
    {
        if (value <= TimeSpan.Zero)
        {
            throw OptionsValidation.Invalid(Owner(stage), option, $"({value}) must be positive.");
        }
    }

    /// <summary>How errors name the step: <c>Window stage 'name'</c>.</summary>
    public static string Owner(string stage) => $"Window stage '{stage}'";
}
