using System.Text;
using Engine.Nats.Tests.Support;
using NATS.Client.Core;

namespace Engine.Nats.Tests;

/// <summary>The engine's partition of a key equals the running server's <c>partition()</c> subject mapping.</summary>
public class PartitionMappingTests
{
    private const int Partitions = 16;
    private NatsServer _server = null!;

    [OneTimeSetUp]
    public async Task StartServer() =>
        _server = await NatsServer.StartNewAsync($"\"map.in.*\": \"map.{{{{partition({Partitions},1)}}}}.{{{{wildcard(1)}}}}\"");

    [OneTimeTearDown]
    public async Task StopServer() => await _server.DisposeAsync();

    [Test]
    public async Task The_engine_and_the_server_put_random_keys_in_the_same_partition_including_non_ascii()
    {
        var random = new Random(20261202);
        string[] alphabet = ["a", "Z", "7", "-", "_", "é", "ß", "ж", "鍵", "😀", "𝄞", "ü", "ñ", "=", "#"];
        var keys = new HashSet<string>(StringComparer.Ordinal);
        while (keys.Count < 2000)
        {
            var key = new StringBuilder();
            int length = random.Next(1, 24);
            for (int i = 0; i < length; i++)
            {
                key.Append(alphabet[random.Next(alphabet.Length)]);
            }

            keys.Add(key.ToString());
        }

        await using NatsConnection connection = _server.Connect();
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        var all = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using INatsSub<byte[]> subscription = await connection.SubscribeCoreAsync<byte[]>("map.*.*");
        Task reader = Task.Run(async () =>
        {
            await foreach (NatsMsg<byte[]> message in subscription.Msgs.ReadAllAsync())
            {
                string[] parts = message.Subject.Split('.', 3);
                seen[parts[2]] = int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture);
                if (seen.Count == keys.Count)
                {
                    all.TrySetResult();
                    return;
                }
            }
        });
        foreach (string key in keys)
        {
            Assert.That(NatsStage.SubjectToken(key), Is.EqualTo(key), "random keys are safe tokens, published as they are");
            await connection.PublishAsync("map.in." + key, Array.Empty<byte>());
        }

        await connection.PingAsync();
        await all.Task.Within();
        await reader.Within();

        var differing = keys.Where(k => seen[k] != NatsStage.PartitionOf(k, Partitions)).ToList();
        Assert.That(differing, Is.Empty, $"{differing.Count} of {keys.Count} keys differ; {keys.Count(k => k.Any(char.IsSurrogate))} keys have surrogate pairs");
    }
}
