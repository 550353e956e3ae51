namespace Engine.Metrics;

/// <summary>How the <c>Engine</c> meter publishes a metric: the OpenTelemetry-style instrument name and its UCUM unit.</summary>
/// <param name="Name">The instrument name (<c>engine.queue.depth</c>).</param>
/// <param name="Unit">The UCUM unit (<c>{item}</c>, <c>s</c>).</param>
internal sealed record MetricInstrument(string Name, string Unit);
