namespace Engine.Pipelines;

/// <summary>
/// Passes an output of a pipeline stage's handler downstream. Call it zero, one or many times per
/// input. Outputs are forwarded, in order, once the handler has returned successfully (an attempt that
/// throws forwards nothing, so a retry never duplicates outputs); forwarding waits while a downstream
/// stage is full, which is how backpressure reaches the emitting worker.
/// </summary>
/// <typeparam name="T">The output type.</typeparam>
/// <param name="item">The output.</param>
public delegate void Emit<in T>(T item);
