using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Threading.Channels;

namespace Engine.Tests.Support;

/// <summary>
/// A small real HTTP server on a loopback port (for the InfluxDB 2.x endpoint and status codes the 1.x
/// server cannot be made to answer). Records every request and answers as <see cref="Respond"/> says.
/// </summary>
internal sealed class LocalHttpServer : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Channel<Request> _requests = Channel.CreateUnbounded<Request>();
    private readonly Task _loop;

    public LocalHttpServer()
    {
        Port = InfluxDbServer.FreePort();
        _listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
        _listener.Start();
        _loop = Task.Run(AcceptAsync);
    }

    public int Port { get; }

    public string Url => $"http://127.0.0.1:{Port}";

    /// <summary>Every request received, in order.</summary>
    public ConcurrentQueue<Request> Received { get; } = new();

    /// <summary>How to answer; default 204. Return null to never answer (until disposed).</summary>
    public Func<Request, Answer?> Respond { get; set; } = _ => new Answer(204);

    public Task<Request> NextAsync() => _requests.Reader.ReadAsync().AsTask().WaitAsync(TestWait.Patience);

    public void Dispose()
    {
        _listener.Close();
        _loop.Wait(TestWait.Patience);
    }

    private async Task AcceptAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            using var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8);
            var request = new Request(
                context.Request.HttpMethod,
                context.Request.Url!.AbsolutePath,
                context.Request.QueryString.AllKeys.ToDictionary(k => k!, k => context.Request.QueryString[k]!),
                context.Request.Headers.AllKeys.ToDictionary(k => k!, k => context.Request.Headers[k]!, StringComparer.OrdinalIgnoreCase),
                await reader.ReadToEndAsync());
            Received.Enqueue(request);
            _requests.Writer.TryWrite(request);
            if (Respond(request) is not { } answer)
            {
                continue;
            }

            context.Response.StatusCode = answer.Status;
            foreach ((string name, string value) in answer.Headers ?? [])
            {
                context.Response.Headers[name] = value;
            }

            byte[] body = Encoding.UTF8.GetBytes(answer.Body ?? string.Empty);
            context.Response.ContentLength64 = body.Length;
            await context.Response.OutputStream.WriteAsync(body);
            context.Response.Close();
        }
    }

    internal sealed record Request(string Method, string Path, Dictionary<string, string> Query, Dictionary<string, string> Headers, string Body);

    internal sealed record Answer(int Status, string? Body = null, (string Name, string Value)[]? Headers = null);
}
