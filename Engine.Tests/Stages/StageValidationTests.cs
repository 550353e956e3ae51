using Engine.Dedupe;
using Engine.Retry;
using Engine.Stages;
using Engine.Tests.Support;

namespace Engine.Tests.Stages;

public class StageValidationTests
{
    private static readonly Func<int, CancellationToken, ValueTask> Nothing = (_, _) => default;

    private static IEnumerable<TestCaseData> BadOptions()
    {
        yield return Case("options.Name", o => o.Name = "");
        yield return Case("options.Name", o => o.Name = "   ");
        yield return Case("options.Shards", o => o.Shards = 0);
        yield return Case("options.Shards", o => o.Shards = -3);
        yield return Case("options.Capacity", o => o.Capacity = 0);
        yield return Case("options.WorkersPerShard", o => o.WorkersPerShard = 0);
        yield return Case("options.UnkeyedWorkers", o => o.UnkeyedWorkers = -1);
        yield return Case("options.FullMode", o => o.FullMode = (StageFullMode)42);
        yield return Case("options.TimeProvider", o => o.TimeProvider = null!);
        yield return Case("options.DisposeDrainTimeout", o => o.DisposeDrainTimeout = TimeSpan.FromSeconds(-1));
        yield return Case("options.Retry.MaxAttempts", o => o.Retry = new RetryOptions { MaxAttempts = 0 });
        yield return Case("options.Retry.BaseDelay", o => o.Retry = new RetryOptions { BaseDelay = TimeSpan.FromMilliseconds(-1) });
        yield return Case("options.Retry.MaxDelay", o => o.Retry = new RetryOptions { BaseDelay = TimeSpan.FromSeconds(2), MaxDelay = TimeSpan.FromSeconds(1) });
        yield return Case("options.Retry.BackoffMultiplier", o => o.Retry = new RetryOptions { BackoffMultiplier = 0.5 });
        yield return Case("options.Retry.JitterRatio", o => o.Retry = new RetryOptions { JitterRatio = 1.5 });
        yield return Case("options.Dedupe", o => { o.KeySelector = null; o.Dedupe = new DedupeOptions<int> { Mode = DedupeMode.Replace }; });
        yield return Case("options.Dedupe.Mode", o => o.Dedupe = new DedupeOptions<int> { Mode = (DedupeMode)9 });
        yield return Case("options.Dedupe.MaxTrackedKeys", o => o.Dedupe = new DedupeOptions<int> { MaxTrackedKeys = 0 });
        yield return Case("options.Dedupe.Merge", o => o.Dedupe = new DedupeOptions<int> { Merge = (a, _) => a });
        yield return Case("options.Dedupe.IsTombstone", o => o.Dedupe = new DedupeOptions<int> { IsTombstone = _ => true });
    }

    private static TestCaseData Case(string option, Action<StageOptions<int>> spoil) =>
        new TestCaseData(option, spoil).SetArgDisplayNames(option);

    [TestCaseSource(nameof(BadOptions))]
    public void A_bad_option_fails_creation_with_an_argument_error_naming_it(string option, Action<StageOptions<int>> spoil)
    {
        var options = new StageOptions<int> { Name = "enrich", KeySelector = i => i };
        spoil(options);
        var error = Assert.Throws<ArgumentException>(() => Stage.Create(options, Nothing));
        Assert.Multiple(() =>
        {
            Assert.That(error!.ParamName, Is.EqualTo(option));
            Assert.That(error.Message, Does.Contain(option));
        });
    }

    [Test]
    public void A_missing_handler_or_options_is_an_argument_null_error()
    {
        Assert.Multiple(() =>
        {
            Assert.That(() => Stage.Create(new StageOptions<int> { Name = "x" }, (Func<int, CancellationToken, ValueTask>)null!), Throws.ArgumentNullException.With.Property("ParamName").EqualTo("handler"));
            Assert.That(() => Stage.Create(new StageOptions<int> { Name = "x" }, (Action<int, CancellationToken>)null!), Throws.ArgumentNullException.With.Property("ParamName").EqualTo("handler"));
            Assert.That(() => Stage.Create(null!, Nothing), Throws.ArgumentNullException.With.Property("ParamName").EqualTo("options"));
        });
    }

    [Test]
    public async Task A_throwing_key_selector_fails_the_write_naming_the_option_and_the_stage_goes_on()
    {
        var processed = new List<int>();
        await using var stage = Stage.Create(
            new StageOptions<int> { Name = "enrich", KeySelector = i => i == 13 ? throw new FormatException("bad id") : i.ToString() },
            (int i, CancellationToken _) => { lock (processed) { processed.Add(i); } });

        var error = Assert.Throws<ArgumentException>(() => stage.TryWrite(13));
        Assert.Multiple(() =>
        {
            Assert.That(error!.Message, Does.Contain("KeySelector").And.Contain("enrich"));
            Assert.That(error.InnerException, Is.TypeOf<FormatException>());
        });
        Assert.That(async () => await stage.WriteAsync(13), Throws.ArgumentException);

        await stage.WriteAsync(1);
        stage.Complete();
        await stage.Completion.Within();

        StageCounts counts = stage.GetCounts();
        Assert.Multiple(() =>
        {
            Assert.That(processed, Is.EqualTo(new[] { 1 }));
            Assert.That(counts.Refused, Is.EqualTo(2));
            Assert.That(counts.Accepted, Is.EqualTo(1));
        });
    }

    [Test]
    public async Task A_throwing_dedupe_function_fails_the_write_naming_it()
    {
        await using var stage = Stage.Create(
            new StageOptions<int>
            {
                Name = "ingest",
                KeySelector = i => i,
                Dedupe = new DedupeOptions<int> { ContentHash = i => i < 0 ? throw new OverflowException() : (ulong)i },
            },
            (int _, CancellationToken _) => { });
        var error = Assert.Throws<ArgumentException>(() => stage.TryWrite(-1));
        Assert.That(error!.Message, Does.Contain("Dedupe.ContentHash").And.Contain("ingest"));
        Assert.That(stage.TryWrite(1), Is.True);
        StageCounts counts = await stage.StopAsync(Timeout.InfiniteTimeSpan);
        Assert.Multiple(() =>
        {
            Assert.That(counts.Refused, Is.EqualTo(1));
            Assert.That(counts.Processed, Is.EqualTo(1));
        });
    }

    [Test]
    public void Options_changed_after_creation_do_not_change_the_stage()
    {
        var options = new StageOptions<int> { Name = "a", Shards = 2 };
        var stage = Stage.Create(options, Nothing);
        options.Shards = 100;
        Assert.That(stage.ShardCount, Is.EqualTo(3));
    }
}
