using Engine.Pipelines;
using Engine.Windows;

namespace Engine.Tests.Windows;

/// <summary>Bad window options make <c>Build()</c> throw, naming the stage and the option.</summary>
public class KeyedWindowValidationTests
{
    private static IEnumerable<TestCaseData> BadSteps()
    {
        yield return Case("length", f => f.TumblingWindow<int>("w", TimeSpan.Zero, () => 0, (s, i) => s + i));
        yield return Case("length", f => f.TumblingWindow<int>("w", TimeSpan.FromSeconds(-1), () => 0, (s, i) => s + i));
        yield return Case("gap", f => f.SessionWindow<int>("w", TimeSpan.Zero, TimeSpan.FromSeconds(1), () => 0, (s, i) => s + i));
        yield return Case("maxLength", f => f.SessionWindow<int>("w", TimeSpan.FromSeconds(1), TimeSpan.Zero, () => 0, (s, i) => s + i));
        yield return Case("gap", f => f.SessionWindow<int>("w", TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(1), () => 0, (s, i) => s + i));
        yield return Case("size", f => f.BatchByKey("w", 0, TimeSpan.FromSeconds(1)));
        yield return Case("maxWait", f => f.BatchByKey("w", 10, TimeSpan.Zero));
        yield return Case("seed", f => f.TumblingWindow<int>("w", TimeSpan.FromSeconds(1), null!, (s, i) => s + i));
        yield return Case("fold", f => f.TumblingWindow<int>("w", TimeSpan.FromSeconds(1), () => 0, null!));
        yield return Case("MaxOpenWindows", f => f.TumblingWindow<int>("w", TimeSpan.FromSeconds(1), () => 0, (s, i) => s + i, o => { o.Stage.Shards = 4; o.MaxOpenWindows = 3; }));
        yield return Case("FullMode", f => f.BatchByKey("w", 1, TimeSpan.FromSeconds(1), o => o.FullMode = (WindowFullMode)7));
    }

    private static TestCaseData Case<TOut>(string option, Func<PipelineBuilder<int>, Flow<int, TOut>> step) =>
        new TestCaseData(option, (Func<PipelineBuilder<int>, PipelineBuilder<int>>)(b => step(b).Sink("out", (_, _) => default))).SetArgDisplayNames(option);

    [TestCaseSource(nameof(BadSteps))]
    public void Build_throws_naming_the_stage_and_the_option(string option, Func<PipelineBuilder<int>, PipelineBuilder<int>> shape)
    {
        PipelineBuilder<int> builder = shape(Pipeline.Create<int>("bad"));
        var error = (ArgumentException)Assert.Throws(Is.InstanceOf<ArgumentException>(), () => builder.Build())!;
        Assert.Multiple(() =>
        {
            Assert.That(error.ParamName, Is.EqualTo(option));
            Assert.That(error.Message, Does.Contain("Window stage 'w'").And.Contain(option));
        });
    }
}
