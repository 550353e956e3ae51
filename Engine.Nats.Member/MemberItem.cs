namespace Engine.Nats.Member;

/// <summary>The item the member program works on: a key and its per-key sequence number (1, 2, 3, …).</summary>
internal sealed record MemberItem(string Key, long Value);
