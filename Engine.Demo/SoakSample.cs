namespace Engine.Demo;

/// <summary>One interval of a soak: the process's memory and threads at its end and the items taken during it.</summary>
/// <param name="Phase">"busy" (load offered) or "idle" (only the resync loop writes).</param>
/// <param name="Seconds">Time since the soak started, at the end of the interval.</param>
/// <param name="RssMegabytes">Resident memory of the process (its working set), MB.</param>
/// <param name="AnonymousMegabytes">The anonymous part of the resident memory (RssAnon: the process's own heap and stacks, not mapped files or the JIT's shared code mapping), MB; null where /proc/self/status is not there.</param>
/// <param name="HeapMegabytes">The GC heap's size at the last collection, MB.</param>
/// <param name="Gen2">Gen-2 collections since the process started.</param>
/// <param name="Threads">Threads of the process.</param>
/// <param name="IngestPerSecond">Items the pipeline accepted per second during the interval.</param>
internal readonly record struct SoakSample(string Phase, double Seconds, double RssMegabytes, double? AnonymousMegabytes, double HeapMegabytes, int Gen2, int Threads, double IngestPerSecond);
