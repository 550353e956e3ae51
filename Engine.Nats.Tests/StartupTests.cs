using Engine.Nats.Tests.Support;
using NATS.Client.Core;

namespace Engine.Nats.Tests;

/// <summary>With no server, creating a writer or member retries a bounded number of times and then fails, saying where it looked.</summary>
public class StartupTests
{
    [Test]
    public async Task With_no_server_creation_fails_after_its_attempts_with_a_clear_error()
    {
        string url = $"nats://127.0.0.1:{NatsServer.FreePort()}";
        await using var connection = new NatsConnection(new NatsOpts { Url = url });
        NatsStageOptions<TestItem> options = TestStage.Options("nobody");
        options.StartupAttempts = 2;

        var error = Assert.ThrowsAsync<NatsException>(() => NatsStage.CreateWriterAsync(connection, options).WaitAsync(TestWait.Patience));

        Assert.That(error!.Message, Does.Contain("did not answer after 2 attempts"));
        Assert.That(error.Message, Does.Contain(url));
    }
}
