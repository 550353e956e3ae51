using Engine.Pipelines;
using Engine.Stages;

namespace Engine.Tests.Pipelines;

public class PipelineValidationTests
{
    private static ValueTask<int> Same(int i, CancellationToken _) => ValueTask.FromResult(i);

    private static ValueTask Nothing(int i, CancellationToken _) => default;

    [Test]
    public void Duplicate_stage_names_are_rejected_naming_the_stage()
    {
        PipelineBuilder<int> builder = Pipeline.Create<int>("p").Then<int>("twice", Same).Then<int>("twice", Same).Sink("end", Nothing);
        var error = Assert.Throws<InvalidOperationException>(() => builder.Build());
        Assert.That(error!.Message, Does.Contain("'twice' is used 2 times").And.Contain("'p'"));
    }

    [Test]
    public void A_branch_without_a_sink_is_rejected_naming_its_last_stage()
    {
        PipelineBuilder<int> builder = Pipeline.Create<int>("p");
        builder.Broadcast(b => b.Sink("ok", Nothing), b => b.Then<int>("dangling", Same));
        var error = Assert.Throws<InvalidOperationException>(() => builder.Build());
        Assert.That(error!.Message, Does.Contain("stage 'dangling' has no sink"));
    }

    [Test]
    public void A_declared_target_nothing_links_into_is_rejected()
    {
        PipelineBuilder<int> builder = Pipeline.Create<int>("p");
        builder.SinkTarget<int>("orphan", Nothing);
        builder.Sink("end", Nothing);
        var error = Assert.Throws<InvalidOperationException>(() => builder.Build());
        Assert.That(error!.Message, Does.Contain("'orphan' is declared but nothing links into it"));
    }

    [Test]
    public void A_cycle_is_rejected_naming_its_stages()
    {
        PipelineBuilder<int> builder = Pipeline.Create<int>("p");
        PipelineJunction<int, int, int> loop = builder.StageTarget<int, int>("loop", (i, emit, _) => { emit(i); return default; });
        builder.To(loop);
        loop.Output.Then<int>("back", Same).To(loop);
        var error = Assert.Throws<InvalidOperationException>(() => builder.Build());
        Assert.That(error!.Message, Does.Contain("cycle: loop -> back -> loop"));
    }

    [Test]
    public void An_empty_pipeline_is_rejected()
    {
        var error = Assert.Throws<InvalidOperationException>(() => Pipeline.Create<int>("p").Build());
        Assert.That(error!.Message, Does.Contain("no stages"));
    }

    [Test]
    public void A_flow_can_be_continued_only_once()
    {
        PipelineBuilder<int> builder = Pipeline.Create<int>("p");
        Flow<int, int> first = builder.Then<int>("first", Same);
        first.Sink("a", Nothing);
        var error = Assert.Throws<InvalidOperationException>(() => first.Sink("b", Nothing));
        Assert.That(error!.Message, Does.Contain("'first' is already continued").And.Contain("Broadcast"));
    }

    [Test]
    public void Invalid_stage_options_fail_the_build_naming_the_option()
    {
        PipelineBuilder<int> builder = Pipeline.Create<int>("p").Sink("store", Nothing, o => o.Shards = 0);
        var error = Assert.Throws<ArgumentException>(() => builder.Build());
        Assert.That(error!.Message, Does.Contain("'store'").And.Contain("Shards"));
    }

    [Test]
    public void Bad_batch_arguments_are_rejected_at_once()
    {
        PipelineBuilder<int> builder = Pipeline.Create<int>("p");
        Assert.Multiple(() =>
        {
            Assert.That(() => builder.Batch("b", 0), Throws.InstanceOf<ArgumentOutOfRangeException>().With.Property("ParamName").EqualTo("size"));
            Assert.That(() => builder.Batch("b", 5, TimeSpan.Zero), Throws.InstanceOf<ArgumentOutOfRangeException>().With.Property("ParamName").EqualTo("window"));
        });
    }

    [Test]
    public async Task Writing_to_a_completed_pipeline_fails_naming_it()
    {
        await using Pipeline<int> pipeline = Pipeline.Create<int>("done").Sink("end", Nothing).Build();
        await pipeline.CompleteAsync();
        var error = Assert.ThrowsAsync<StageCompletedException>(async () => await pipeline.WriteAsync(1));
        Assert.That(error!.Message, Does.Contain("'done'"));
    }
}
