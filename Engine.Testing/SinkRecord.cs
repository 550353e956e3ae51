namespace Engine.Testing;

/// <summary>One item that reached a <see cref="SinkProbe{T}"/>.</summary>
/// <typeparam name="T">The item type.</typeparam>
/// <param name="Item">The item.</param>
/// <param name="Attempt">The handler run that took it: 1 the first time, 2 after one retry, and so on.</param>
/// <param name="Age">Its end-to-end age when it arrived, on the harness's clock: pipeline entry to this sink.</param>
/// <param name="At">When it arrived, on the harness's clock.</param>
public readonly record struct SinkRecord<T>(T Item, int Attempt, TimeSpan Age, DateTimeOffset At);
