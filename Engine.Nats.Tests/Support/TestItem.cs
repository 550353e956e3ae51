namespace Engine.Nats.Tests.Support;

/// <summary>The tests' item; the same JSON shape as the member program's (Key, Value).</summary>
public sealed record TestItem(string Key, long Value);
