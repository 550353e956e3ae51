using System.Collections;
using System.Diagnostics;
using Engine.Dedupe;
using Engine.Pipelines;
using Engine.Retry;
using Engine.Stages;
using Engine.Tests.Support;
using Engine.Tracing;
using OpenTelemetry;
using OpenTelemetry.Trace;

namespace Engine.Tests.Tracing;

/// <summary>
/// With an OpenTelemetry tracer listening to the <c>Engine</c> source, each handler run is an activity
/// that continues the context the item was written in: through re-keying and fan-out as children, and
/// from a batch as links to every item's context. With nothing listening, nothing is carried.
/// </summary>
[NonParallelizable]
public class TracingTests
{
    private static readonly ActivitySource Caller = new("Engine.Tests.Caller");

    [Test]
    public async Task A_handler_run_is_a_child_of_the_write_s_activity_tagged_with_stage_shard_attempt_and_outcome()
    {
        var spans = new SpanCollection();
        using TracerProvider tracer = Listen(spans);
        string name = "traced-" + Guid.NewGuid().ToString("N");
        int runs = 0;
        await using Stage<string> stage = Stage.Create(
            new StageOptions<string>
            {
                Name = name,
                Shards = 4,
                KeySelector = s => s,
                Retry = new RetryOptions { MaxAttempts = 3, BaseDelay = TimeSpan.Zero, MaxDelay = TimeSpan.Zero, IsTransient = ex => ex is TimeoutException },
            },
            (string _, CancellationToken _) =>
            {
                if (Interlocked.Increment(ref runs) == 1)
                {
                    throw new TimeoutException("first attempt fails");
                }

                return default;
            });

        ActivityContext write;
        using (Activity request = Caller.StartActivity("request")!)
        {
            write = request.Context;
            await stage.WriteAsync("k");
        }

        stage.Complete();
        await stage.Completion.Within();
        Assert.That(spans.Count(s => s.DisplayName == name + " process"), Is.EqualTo(2), "every run's activity has ended when Completion completes");
        Activity[] ofStage = await spans.WaitForAsync(name + " process", 2);

        Assert.Multiple(() =>
        {
            foreach (Activity run in ofStage)
            {
                Assert.That(run.Source.Name, Is.EqualTo(EngineTelemetry.ActivitySourceName));
                Assert.That(run.TraceId, Is.EqualTo(write.TraceId), "same trace as the write");
                Assert.That(run.ParentSpanId, Is.EqualTo(write.SpanId), "a child of the write's activity");
                Assert.That(run.GetTagItem("engine.stage"), Is.EqualTo(name));
                Assert.That(run.GetTagItem("engine.shard"), Is.EqualTo(stage.ShardOf("k")));
            }

            Assert.That(ofStage.Select(r => (r.GetTagItem("engine.attempt"), r.GetTagItem("engine.outcome"), r.Status)), Is.EquivalentTo(new[]
            {
                ((object?)1, (object?)"retrying", ActivityStatusCode.Error),
                ((object?)2, (object?)"processed", ActivityStatusCode.Unset),
            }));
        });
    }

    [Test]
    public async Task A_run_that_fails_for_good_is_tagged_dead_lettered_with_its_error()
    {
        var spans = new SpanCollection();
        using TracerProvider tracer = Listen(spans);
        string name = "traced-dead-" + Guid.NewGuid().ToString("N");
        var deadLetterActivity = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using Stage<int> stage = Stage.Create(
            new StageOptions<int> { Name = name, OnDeadLetter = (_, _) => deadLetterActivity.TrySetResult(Activity.Current?.DisplayName) },
            (int _, CancellationToken _) => throw new InvalidOperationException("broken"));

        using (Caller.StartActivity("request"))
        {
            await stage.WriteAsync(1);
        }

        Activity run = (await spans.WaitForAsync(name + " process", 1)).Single();
        string? currentInCallback = await deadLetterActivity.Task.Within();

        Assert.Multiple(() =>
        {
            Assert.That(run.GetTagItem("engine.outcome"), Is.EqualTo("dead_lettered"));
            Assert.That(run.Status, Is.EqualTo(ActivityStatusCode.Error));
            Assert.That(run.StatusDescription, Is.EqualTo("broken"));
            Assert.That(run.Events.Select(e => e.Name), Does.Contain("exception"));
            Assert.That(currentInCallback, Is.EqualTo(name + " process"), "the dead-letter callback runs inside the run's activity");
        });
    }

    [Test]
    public async Task A_replaced_update_runs_in_the_trace_of_the_write_that_replaced_it()
    {
        var spans = new SpanCollection();
        using TracerProvider tracer = Listen(spans);
        string name = "traced-dedupe-" + Guid.NewGuid().ToString("N");
        var gate = new Gate();
        await using Stage<(string Key, int Version)> stage = Stage.Create(
            new StageOptions<(string Key, int Version)>
            {
                Name = name,
                KeySelector = e => e.Key,
                Dedupe = new DedupeOptions<(string Key, int Version)> { Mode = DedupeMode.Replace },
            },
            async ((string Key, int Version) e, CancellationToken ct) =>
            {
                if (e.Version == 0)
                {
                    await gate.PassAsync(ct);
                }
            });

        // Version 0 holds the key; version 1 waits behind it and is replaced by version 2.
        await stage.WriteAsync(("k", 0));
        await gate.StartedAsync();
        var writes = new List<ActivityContext>();
        foreach (int version in new[] { 1, 2 })
        {
            using Activity request = Caller.StartActivity("request " + version)!;
            writes.Add(request.Context);
            await stage.WriteAsync(("k", version));
        }

        gate.Open();
        stage.Complete();
        await stage.Completion.Within();
        Activity[] runs = await spans.WaitForAsync(name + " process", 2);

        Assert.Multiple(() =>
        {
            Assert.That(stage.GetCounts().Superseded, Is.EqualTo(1), "version 1 was replaced");
            Assert.That(runs.Count(r => r.ParentSpanId == writes[1].SpanId), Is.EqualTo(1), "the replacing write's trace goes on");
            Assert.That(runs.Count(r => r.ParentSpanId == writes[0].SpanId), Is.Zero, "the replaced write's trace ends");
        });
    }

    [Test]
    public async Task A_pipeline_continues_the_trace_through_re_keying_and_fan_out()
    {
        var spans = new SpanCollection();
        using TracerProvider tracer = Listen(spans);
        string name = "traced-pipeline-" + Guid.NewGuid().ToString("N");
        await using Pipeline<int> pipeline = Pipeline.Create<int>(name)
            .Then("parse", (int i, CancellationToken _) => ValueTask.FromResult(i.ToString(System.Globalization.CultureInfo.InvariantCulture)), o => o.KeySelector = i => i)
            .Then<string>("rekey", (s, emit, _) =>
            {
                emit(s + "-a");
                emit(s + "-b");
                return default;
            }, o => o.KeySelector = s => "other-" + s)
            .Broadcast(
                b => b.Sink("left", (_, _) => default, o => o.KeySelector = s => s),
                b => b.Sink("right", (_, _) => default))
            .Build();

        ActivityContext write;
        using (Activity request = Caller.StartActivity("request")!)
        {
            write = request.Context;
            await pipeline.WriteAsync(7);
        }

        await pipeline.CompleteAsync().Within();
        Activity parse = (await spans.WaitForAsync("parse process", 1, name)).Single();
        Activity rekey = (await spans.WaitForAsync("rekey process", 1, name)).Single();
        Activity[] left = await spans.WaitForAsync("left process", 2, name);
        Activity[] right = await spans.WaitForAsync("right process", 2, name);

        Assert.Multiple(() =>
        {
            Assert.That(parse.ParentSpanId, Is.EqualTo(write.SpanId));
            Assert.That(rekey.ParentSpanId, Is.EqualTo(parse.SpanId), "re-keyed: the next stage's run is a child of the run that emitted it");
            Assert.That(left.Concat(right).Select(r => r.ParentSpanId), Has.All.EqualTo(rekey.SpanId), "fan-out: every branch's runs are children of it");
            Assert.That(new[] { parse, rekey }.Concat(left).Concat(right).Select(r => r.TraceId), Has.All.EqualTo(write.TraceId), "one trace");
            Assert.That(left.Concat(right).Select(r => r.GetTagItem("engine.pipeline")), Has.All.EqualTo(name));
        });
    }

    [Test]
    public async Task A_batch_s_run_links_to_the_context_of_every_item_in_it()
    {
        var spans = new SpanCollection();
        using TracerProvider tracer = Listen(spans);
        string name = "traced-batch-" + Guid.NewGuid().ToString("N");
        await using Pipeline<int> pipeline = Pipeline.Create<int>(name)
            .Batch("batch", size: 3)
            .Sink("store", (_, _) => default)
            .Build();

        var writes = new List<ActivityContext>();
        for (int i = 0; i < 3; i++)
        {
            using Activity request = Caller.StartActivity("request")!;
            writes.Add(request.Context);
            await pipeline.WriteAsync(i);
        }

        await pipeline.CompleteAsync().Within();
        Activity store = (await spans.WaitForAsync("store process", 1, name)).Single();

        Assert.Multiple(() =>
        {
            Assert.That(store.Links.Select(l => l.Context), Is.EquivalentTo(writes));
            Assert.That(store.ParentSpanId, Is.EqualTo(default(ActivitySpanId)), "a batch has many parents: its run starts a trace and links to each");
        });
    }

    [Test]
    public async Task With_nothing_listening_a_write_carries_nothing_and_no_run_is_an_activity()
    {
        Assume.That(EngineTracing.Source.HasListeners(), Is.False, "another listener on the Engine source is active");
        var inHandler = new TaskCompletionSource<Activity?>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using Stage<int> stage = Stage.Create(new StageOptions<int> { Name = "untraced" }, (int _, CancellationToken _) =>
        {
            inHandler.TrySetResult(Activity.Current);
            return default;
        });

        // An activity no listener samples is still current: the write must not carry it.
        using var request = new Activity("request");
        request.Start();
        Assert.That(EngineTracing.Capture(), Is.Null);
        await stage.WriteAsync(1);
        request.Stop();

        Assert.That(await inHandler.Task.Within(), Is.Null, "the handler runs in no activity");
    }

    private static TracerProvider Listen(SpanCollection spans) =>
        Sdk.CreateTracerProviderBuilder()
            .AddSource(EngineTelemetry.ActivitySourceName, Caller.Name)
            .SetSampler(new AlwaysOnSampler())
            .AddInMemoryExporter(spans)
            .Build()!;

    /// <summary>
    /// The exporter's collection, safe to read while worker threads export (a test reads it while a
    /// stage still runs, or a pipeline's other branches do).
    /// </summary>
    private sealed class SpanCollection : ICollection<Activity>
    {
        private readonly List<Activity> _spans = [];

        public int Count
        {
            get
            {
                lock (_spans)
                {
                    return _spans.Count;
                }
            }
        }

        public bool IsReadOnly => false;

        /// <summary>Waits (yielding) until <paramref name="count"/> spans named <paramref name="name"/> (of <paramref name="pipeline"/>, if given) are exported, and returns them.</summary>
        public async Task<Activity[]> WaitForAsync(string name, int count, string? pipeline = null)
        {
            Activity[] Matching()
            {
                lock (_spans)
                {
                    return [.. _spans.Where(s => s.DisplayName == name && (pipeline is null || (string?)s.GetTagItem("engine.pipeline") == pipeline))];
                }
            }

            await TestWait.UntilAsync(() => Matching().Length >= count, $"{count} spans named '{name}'");
            Activity[] found = Matching();
            Assert.That(found, Has.Length.EqualTo(count), name);
            return found;
        }

        public void Add(Activity item)
        {
            lock (_spans)
            {
                _spans.Add(item);
            }
        }

        public void Clear()
        {
            lock (_spans)
            {
                _spans.Clear();
            }
        }

        public bool Contains(Activity item)
        {
            lock (_spans)
            {
                return _spans.Contains(item);
            }
        }

        public void CopyTo(Activity[] array, int arrayIndex)
        {
            lock (_spans)
            {
                _spans.CopyTo(array, arrayIndex);
            }
        }

        public bool Remove(Activity item)
        {
            lock (_spans)
            {
                return _spans.Remove(item);
            }
        }

        public IEnumerator<Activity> GetEnumerator()
        {
            lock (_spans)
            {
                return _spans.ToList().GetEnumerator();
            }
        }

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
