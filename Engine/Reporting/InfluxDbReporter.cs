using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Engine.Internal;
using Microsoft.Extensions.Logging;

namespace Engine.Reporting;

/// <summary>
/// Sends every report to InfluxDB 1.x (<c>/write</c>) or 2.x (<c>/api/v2/write</c>) as line protocol
/// in App.Metrics' layout (see docs/reporting.md), one nanosecond timestamp per flush.
/// </summary>
/// <remarks>
/// Points go into a bounded buffer first (when full the oldest are dropped and counted), then out in
/// batches of at most <see cref="InfluxDbReporterOptions.BatchSize"/>. A 413 splits the batch and
/// retries the halves; 400/422 (malformed points) are logged with the server's message and dropped,
/// never retried; a 404 "database not found" creates the database when allowed; other failures
/// (network, request time-out, 5xx, 401) keep the points buffered and fail the flush; after
/// <see cref="InfluxDbReporterOptions.FailuresBeforeBackoff"/> consecutive failures the reporter
/// backs off exponentially, and a 429/503 <c>Retry-After</c> is honoured. All of this happens on the
/// reporting scheduler's loop for this reporter, never on the pipeline's. Re-sending points InfluxDB
/// already stored (after a split half failed) is harmless: a point with the same series and timestamp
/// overwrites itself.
/// </remarks>
public sealed partial class InfluxDbReporter : IMetricsReporter, IDisposable
{
    private readonly HttpClient _http;
    private readonly Uri _writeUri;
    private readonly Uri? _queryUri;
    private readonly AuthenticationHeaderValue? _authorization;
    private readonly string? _database;
    private readonly bool _createDatabase;
    private readonly int _batchSize;
    private readonly int _failuresBeforeBackoff;
    private readonly TimeSpan _requestTimeout;
    private readonly TimeSpan _backoff;
    private readonly TimeSpan _maxBackoff;
    private readonly TimeProvider _clock;
    private readonly ILogger _logger;
    private readonly PointBuffer _buffer;
    private readonly AppMetricsFormatter _formatter;
    private long _sent;
    private long _dropped;
    private long _rejected;
    private long _failedRequests;
    private long _abandoned;
    private int _consecutiveFailures;
    private long _backoffUntil;

    /// <summary>Creates a reporter; nothing is sent until the first flush.</summary>
    /// <param name="options">Where and how to write; validated and copied now.</param>
    /// <exception cref="ArgumentException">An option is invalid or missing; the message names it.</exception>
    public InfluxDbReporter(InfluxDbReporterOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        const string owner = "InfluxDbReporter";
        OptionsValidation.Validate(options, owner, "options");
        if (!Uri.TryCreate(options.Url, UriKind.Absolute, out Uri? url) || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps))
        {
            throw OptionsValidation.Invalid(owner, "options.Url", $"must be an absolute http or https address such as http://127.0.0.1:8086; it is '{options.Url}'.");
        }

        if (options.TimeProvider is null)
        {
            throw OptionsValidation.Invalid(owner, "options.TimeProvider", "may not be null.");
        }

        if (options.Logger is null)
        {
            throw OptionsValidation.Invalid(owner, "options.Logger", "may not be null (use NullLogger.Instance).");
        }

        if (!Enum.IsDefined(options.RateUnit))
        {
            throw OptionsValidation.Invalid(owner, "options.RateUnit", $"must be Seconds, Minutes or Hours; it is {(int)options.RateUnit}.");
        }

        var baseUri = new Uri(url.AbsoluteUri.EndsWith('/') ? url.AbsoluteUri : url.AbsoluteUri + "/");
        bool v2 = !string.IsNullOrEmpty(options.Organization) || !string.IsNullOrEmpty(options.Bucket) || !string.IsNullOrEmpty(options.Token);
        if (v2)
        {
            if (!string.IsNullOrEmpty(options.Database))
            {
                throw OptionsValidation.Invalid(owner, "options.Database", "is for InfluxDB 1.x; with Organization/Bucket/Token (2.x) leave it unset.");
            }

            Require(options.Organization, "options.Organization");
            Require(options.Bucket, "options.Bucket");
            Require(options.Token, "options.Token");
            _writeUri = new Uri(baseUri, $"api/v2/write?org={Uri.EscapeDataString(options.Organization!)}&bucket={Uri.EscapeDataString(options.Bucket!)}&precision=ns");
            _authorization = new AuthenticationHeaderValue("Token", options.Token);
        }
        else
        {
            if (string.IsNullOrWhiteSpace(options.Database))
            {
                throw OptionsValidation.Invalid(owner, "options.Database", "is required: the InfluxDB 1.x database to write to (for InfluxDB 2.x set Organization, Bucket and Token instead).");
            }

            _database = options.Database;
            string rp = string.IsNullOrEmpty(options.RetentionPolicy) ? string.Empty : "&rp=" + Uri.EscapeDataString(options.RetentionPolicy);
            _writeUri = new Uri(baseUri, $"write?db={Uri.EscapeDataString(options.Database)}{rp}&precision=ns");
            _queryUri = new Uri(baseUri, "query");
            _createDatabase = options.CreateDatabase;
            if (!string.IsNullOrEmpty(options.Username))
            {
                string credentials = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{options.Username}:{options.Password}"));
                _authorization = new AuthenticationHeaderValue("Basic", credentials);
            }
            else if (!string.IsNullOrEmpty(options.Password))
            {
                throw OptionsValidation.Invalid(owner, "options.Username", "is required when a Password is set.");
            }
        }

        Name = options.Name;
        FlushInterval = options.FlushInterval;
        _batchSize = options.BatchSize;
        _failuresBeforeBackoff = options.FailuresBeforeBackoff;
        _requestTimeout = options.RequestTimeout;
        _backoff = options.Backoff;
        _maxBackoff = options.MaxBackoff < options.Backoff ? options.Backoff : options.MaxBackoff;
        _clock = options.TimeProvider;
        _logger = options.Logger;
        _buffer = new PointBuffer(options.MaxBufferedPoints);
        _formatter = new AppMetricsFormatter(rateUnit: options.RateUnit);
        _http = options.HttpHandler is null
            ? new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(2) }, disposeHandler: true)
            : new HttpClient(options.HttpHandler, disposeHandler: false);
        _http.Timeout = Timeout.InfiniteTimeSpan;

        static void Require(string? value, string option)
        {
            if (string.IsNullOrWhiteSpace(value))
            {
                throw OptionsValidation.Invalid("InfluxDbReporter", option, "is required for InfluxDB 2.x (Organization, Bucket and Token go together).");
            }
        }
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <inheritdoc />
    public TimeSpan FlushInterval { get; }

    /// <inheritdoc />
    public DeliveryStatistics Delivery => new()
    {
        Sent = Interlocked.Read(ref _sent),
        Dropped = Interlocked.Read(ref _dropped),
        Rejected = Interlocked.Read(ref _rejected),
        Buffered = _buffer.Count,
        Abandoned = Interlocked.Read(ref _abandoned),
        FailedRequests = Interlocked.Read(ref _failedRequests),
        ConsecutiveFailures = Volatile.Read(ref _consecutiveFailures),
    };

    /// <summary>
    /// Buffers the report's points, then sends everything buffered unless the reporter is backing off;
    /// a final report (<see cref="MetricsReport.IsFinal"/>) is sent back-off or not.
    /// </summary>
    /// <param name="report">The report.</param>
    /// <param name="cancellationToken">Stops sending; unsent points stay buffered.</param>
    /// <returns>A task that completes when the buffer is empty.</returns>
    /// <exception cref="InfluxDbException">Points could not be delivered (they stay buffered) or the reporter is backing off.</exception>
    public async ValueTask FlushAsync(MetricsReport report, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(report);
        var writer = new LineProtocolWriter();
        _formatter.Write(writer, report);
        long dropped = _buffer.Add(writer.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
        if (dropped > 0)
        {
            Interlocked.Add(ref _dropped, dropped);
            ReportingLog.PointsDropped(_logger, Name, dropped);
        }

        // The final report is the buffer's last chance: after it the scheduler disposes the reporter and
        // whatever is still buffered is abandoned. Waiting out a back-off then saves the server nothing
        // and costs every point, so the final flush tries once more (bounded by the request timeout and
        // the scheduler's flush timeout).
        TimeSpan wait = _clock.GetElapsedTime(_clock.GetTimestamp(), Volatile.Read(ref _backoffUntil));
        if (wait > TimeSpan.Zero && !report.IsFinal)
        {
            throw new InfluxDbException($"InfluxDB reporter '{Name}' is backing off for another {wait.TotalSeconds:0.0} s; {_buffer.Count} points wait in the buffer.");
        }

        while (_buffer.Count > 0)
        {
            await SendAsync(_buffer.Peek(_batchSize), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Disposes the HTTP client and abandons the points still buffered: they move from
    /// <see cref="DeliveryStatistics.Buffered"/> to <see cref="DeliveryStatistics.Abandoned"/>.
    /// The scheduler disposes its reporters when it stops, after the final flush. Idempotent.
    /// </summary>
    public void Dispose()
    {
        // The client first: a flush abandoned after its time bound may still run, and must not send
        // (and count as sent) points already counted abandoned.
        _http.Dispose();
        Interlocked.Add(ref _abandoned, _buffer.Clear());
    }

    /// <summary>
    /// Sends a batch from the head of the buffer, splitting it on 413, and removes from the buffer what
    /// was stored or rejected (halves go in order, so each is at the head when it is done); throws
    /// <see cref="InfluxDbException"/> on a failure, leaving the rest buffered.
    /// </summary>
    private async Task SendAsync(List<string> batch, CancellationToken cancellationToken)
    {
        Response response = await PostAsync(_writeUri, string.Join('\n', batch) + "\n", cancellationToken).ConfigureAwait(false);
        if (response.Status == HttpStatusCode.NotFound && _createDatabase && response.Message.Contains("database not found", StringComparison.OrdinalIgnoreCase))
        {
            await CreateDatabaseAsync(cancellationToken).ConfigureAwait(false);
            response = await PostAsync(_writeUri, string.Join('\n', batch) + "\n", cancellationToken).ConfigureAwait(false);
        }

        switch ((int)response.Status)
        {
            case >= 200 and < 300:
                Succeeded(batch.Count);
                _buffer.Remove(batch.Count);
                return;
            case 413 when batch.Count > 1:
                Volatile.Write(ref _consecutiveFailures, 0);
                int half = batch.Count / 2;
                await SendAsync(batch[..half], cancellationToken).ConfigureAwait(false);
                await SendAsync(batch[half..], cancellationToken).ConfigureAwait(false);
                return;
            case 413:
            case 400:
            case 422:
                // Malformed (or a single point too large): retrying cannot help. A 1.x partial write
                // says how many points it dropped; the rest were stored.
                long rejected = PartialWriteDropped(response.Detail) is { } n && n <= batch.Count ? n : batch.Count;
                Interlocked.Add(ref _rejected, rejected);
                Succeeded(batch.Count - (int)rejected);
                _buffer.Remove(batch.Count);
                ReportingLog.PointsRejected(_logger, Name, (int)response.Status, (int)rejected, response.Message);
                return;
            default:
                Failed(response.Status == 0 ? response.Message : $"HTTP {(int)response.Status}: {response.Message}", response.RetryAfter);
                return;
        }
    }

    private void Succeeded(int points)
    {
        Interlocked.Add(ref _sent, points);
        Volatile.Write(ref _consecutiveFailures, 0);
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private void Failed(string problem, TimeSpan? retryAfter)
    {
        Interlocked.Increment(ref _failedRequests);
        int failures = Interlocked.Increment(ref _consecutiveFailures);
        TimeSpan? delay = retryAfter is { } after
            ? TimeSpan.FromTicks(Math.Min(after.Ticks, _maxBackoff.Ticks))
            : failures >= _failuresBeforeBackoff
                ? TimeSpan.FromTicks((long)Math.Min(_maxBackoff.Ticks, _backoff.Ticks * Math.Pow(2, failures - _failuresBeforeBackoff)))
                : null;
        if (delay is { } d && d > TimeSpan.Zero)
        {
            long until = _clock.GetTimestamp() + (long)(d.TotalSeconds * _clock.TimestampFrequency);
            Volatile.Write(ref _backoffUntil, until);
            ReportingLog.BackingOff(_logger, Name, d, failures);
        }

        ReportingLog.WriteFailed(_logger, Name, problem, _buffer.Count);
        throw new InfluxDbException($"InfluxDB reporter '{Name}': {problem}; {_buffer.Count} points wait in the buffer.");
    }

    private async Task CreateDatabaseAsync(CancellationToken cancellationToken)
    {
        string statement = $"CREATE DATABASE \"{_database!.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal)}\"";
        Response response = await PostAsync(_queryUri!, "q=" + Uri.EscapeDataString(statement), cancellationToken, form: true).ConfigureAwait(false);
        if ((int)response.Status is >= 200 and < 300)
        {
            ReportingLog.DatabaseCreated(_logger, Name, _database);
        }
    }

    private async Task<Response> PostAsync(Uri uri, string body, CancellationToken cancellationToken, bool form = false)
    {
        using var timeout = new CancellationTokenSource(_requestTimeout, _clock);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        using var request = new HttpRequestMessage(HttpMethod.Post, uri)
        {
            Content = new StringContent(body, Encoding.UTF8, form ? "application/x-www-form-urlencoded" : "text/plain"),
        };
        request.Headers.Authorization = _authorization;
        try
        {
            using HttpResponseMessage response = await _http.SendAsync(request, linked.Token).ConfigureAwait(false);
            string text = response.IsSuccessStatusCode ? string.Empty : await response.Content.ReadAsStringAsync(linked.Token).ConfigureAwait(false);
            string detail = ServerMessage(text);
            return new Response(response.StatusCode, detail.Length <= 500 ? detail : detail[..500], RetryAfter(response), detail);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            return new Response(0, $"no answer within {_requestTimeout.TotalSeconds:0.###} s", null);
        }
        catch (HttpRequestException ex)
        {
            return new Response(0, ex.Message, null);
        }
        catch (IOException ex)
        {
            // The connection broke while the answer was read: a failed request like any other.
            return new Response(0, ex.Message, null);
        }
    }

    private TimeSpan? RetryAfter(HttpResponseMessage response)
    {
        if (response.StatusCode is not (HttpStatusCode.ServiceUnavailable or HttpStatusCode.TooManyRequests) || response.Headers.RetryAfter is not { } header)
        {
            return null;
        }

        return header.Delta ?? (header.Date is { } date ? date - _clock.GetUtcNow() : null);
    }

    /// <summary>The server's error text: the <c>error</c> (1.x) or <c>message</c> (2.x) of a JSON body, else the body (whole: callers shorten it for logs).</summary>
    private static string ServerMessage(string body)
    {
        string message = body;
        try
        {
            using JsonDocument json = JsonDocument.Parse(body);
            if (json.RootElement.ValueKind == JsonValueKind.Object &&
                (json.RootElement.TryGetProperty("error", out JsonElement e) || json.RootElement.TryGetProperty("message", out e)) &&
                e.ValueKind == JsonValueKind.String)
            {
                message = e.GetString() ?? body;
            }
        }
        catch (JsonException)
        {
            // Not JSON: keep the body as it is.
        }

        return message.Trim();
    }

    /// <summary>
    /// The points a 1.x partial write lost: its <c>dropped=</c> (the last one: the quoted lines may hold
    /// the text too) plus one per "unable to parse" line, which influxd leaves out of <c>dropped=</c>.
    /// Read from the whole message: the quoted lines easily make it longer than what is logged.
    /// </summary>
    private static long? PartialWriteDropped(string message)
    {
        Match match = DroppedPattern().Match(message);
        if (!match.Success)
        {
            return null;
        }

        long dropped = long.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
        const string parseError = "unable to parse '";
        for (int at = message.IndexOf(parseError, StringComparison.Ordinal); at >= 0; at = message.IndexOf(parseError, at + parseError.Length, StringComparison.Ordinal))
        {
            dropped++;
        }

        return dropped;
    }

    [GeneratedRegex(@"dropped=(\d+)\s*$", RegexOptions.RightToLeft)]
    private static partial Regex DroppedPattern();

    private readonly record struct Response(HttpStatusCode Status, string Message, TimeSpan? RetryAfter, string Detail = "");
}
