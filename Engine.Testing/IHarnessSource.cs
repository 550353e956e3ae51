namespace Engine.Testing;

/// <summary>A source probe as the harness inspects it, whatever its item type.</summary>
internal interface IHarnessSource
{
    string Name { get; }

    /// <summary>What a write of the source threw, if one did (the source stops then).</summary>
    Exception? Fault { get; }

    /// <summary>Null when the source has nothing to write, or its write waits for room; otherwise what it is doing.</summary>
    string? Busy { get; }

    /// <summary>What it waits for when it is not busy and not empty (a write waiting for room); otherwise null.</summary>
    string? Waiting { get; }
}
