namespace Engine.Nats.Benchmarks;

/// <summary>The member program's item shape (Key, Value), written by the benchmark's producer.</summary>
internal sealed record BenchItem(string Key, long Value);
