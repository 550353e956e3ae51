using Engine.Nats.Tests.Support;
using Engine.Stages;
using NATS.Client.Core;

namespace Engine.Nats.Tests;

/// <summary>Options are validated before any server call, so these need no server.</summary>
public class OptionsValidationTests
{
    private static IEnumerable<TestCaseData> Invalid()
    {
        yield return new TestCaseData((Action<NatsStageOptions<TestItem>>)(o => o.Name = "has.dot"), "options.Name");
        yield return new TestCaseData((Action<NatsStageOptions<TestItem>>)(o => o.Partitions = 0), "options.Partitions");
        yield return new TestCaseData((Action<NatsStageOptions<TestItem>>)(o => o.KeySelector = null), "options.KeySelector");
        yield return new TestCaseData((Action<NatsStageOptions<TestItem>>)(o => o.LeaseTtl = TimeSpan.FromMilliseconds(10)), "options.LeaseTtl");
        yield return new TestCaseData((Action<NatsStageOptions<TestItem>>)(o => o.AckWait = TimeSpan.Zero), "options.AckWait");
        yield return new TestCaseData((Action<NatsStageOptions<TestItem>>)(o => o.MaxAckPending = 0), "options.MaxAckPending");
        yield return new TestCaseData((Action<NatsStageOptions<TestItem>>)(o => o.MemberName = "bad name"), "options.MemberName");
        yield return new TestCaseData((Action<NatsStageOptions<TestItem>>)(o => o.MaxMessagesPerPartition = 0), "options.MaxMessagesPerPartition");
        yield return new TestCaseData((Action<NatsStageOptions<TestItem>>)(o => o.LocalStage.FullMode = StageFullMode.DropOldest), "options.LocalStage.FullMode");
        yield return new TestCaseData((Action<NatsStageOptions<TestItem>>)(o => o.LocalStage.Dedupe = new Engine.Dedupe.DedupeOptions<TestItem> { Mode = Engine.Dedupe.DedupeMode.Replace, Merge = (a, b) => b }), "options.LocalStage.Dedupe.Merge");
    }

    [TestCaseSource(nameof(Invalid))]
    public async Task An_invalid_option_is_refused_with_an_error_naming_it(Action<NatsStageOptions<TestItem>> spoil, string option)
    {
        await using var connection = new NatsConnection(new NatsOpts { Url = "nats://127.0.0.1:1" });
        NatsStageOptions<TestItem> options = TestStage.Options("valid");
        spoil(options);

        var error = Assert.ThrowsAsync<ArgumentException>(() => NatsStage.CreateWriterAsync(connection, options));

        Assert.That(error!.ParamName, Is.EqualTo(option));
        Assert.That(error.Message, Does.Contain(option));
    }
}
