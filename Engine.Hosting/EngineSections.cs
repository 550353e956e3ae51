namespace Engine.Hosting;

/// <summary>
/// The configuration sections Engine.Hosting reads (keys are separated by <c>:</c>, so in environment
/// variables by <c>__</c>, e.g. <c>Engine__Hosting__DrainTimeout</c>).
/// </summary>
public static class EngineSections
{
    /// <summary><c>Engine:Hosting</c>: <see cref="EngineHostingOptions"/>.</summary>
    public const string Hosting = "Engine:Hosting";

    /// <summary><c>Engine:Health</c>: <see cref="EngineHealthOptions"/>.</summary>
    public const string Health = "Engine:Health";

    /// <summary><c>Engine:Reporting</c>: <see cref="EngineReportingOptions"/>.</summary>
    public const string Reporting = "Engine:Reporting";

    /// <summary><c>Engine:Pipelines:{name}</c>: a pipeline's <see cref="PipelineSettings"/>.</summary>
    public const string Pipelines = "Engine:Pipelines";

    /// <summary><c>Engine:Stages:{name}</c>: a stand-alone stage's <see cref="StageSettings"/>.</summary>
    public const string Stages = "Engine:Stages";
}
