using System.Diagnostics;

namespace Engine.Tracing;

/// <summary>What a batch carries instead of one parent context: a link to each of its items' write contexts.</summary>
/// <param name="Links">One per item that was written inside an activity.</param>
internal sealed record BatchTrace(IReadOnlyList<ActivityLink> Links);
