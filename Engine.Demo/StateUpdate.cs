namespace Engine.Demo;

/// <summary>A state update for an entity (null entity: an unkeyed message).</summary>
internal sealed record StateUpdate(string? Entity, string Kind, string Namespace, int Version, ulong ContentHash, bool Deleted);

/// <summary>An alert raised for an entity, keyed by namespace.</summary>
internal sealed record Alert(string Namespace, string? Entity, int Severity);
