namespace Engine.Testing;

/// <summary>An item a stage reported through one of its callbacks, with why.</summary>
/// <typeparam name="T">The item type.</typeparam>
/// <typeparam name="TReason">What the callback said: an <see cref="ItemFailure"/> for a dead letter, a <see cref="DropReason"/>, a <see cref="Dedupe.SupersedeReason"/>.</typeparam>
/// <param name="Item">The item.</param>
/// <param name="Reason">Why the stage gave it up.</param>
public readonly record struct StageItem<T, TReason>(T Item, TReason Reason);
