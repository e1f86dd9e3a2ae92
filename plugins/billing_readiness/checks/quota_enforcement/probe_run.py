"""What one probe run saw, as the verdict reads it: the sequences sent at each limit, the concurrent burst, the
counters each deciding limit left, the limits run again or left undecided, and what the cleanup did."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Cleanup:
    deleted: list[str] = field(default_factory=list)  # the probe's own keys, deleted
    foreign: list[str] = field(default_factory=list)  # matched a pattern but are not the probe's: left alone
    leftovers: list[str] = field(default_factory=list)  # anything of the probe still there at the end
    took_over: str | None = None  # the crashed probe whose marker and keys this run took over, and why
    # Leftovers no 'quota.cleanup_patterns' entry matches: {key: the pattern that would match it}
    uncovered: dict[str, str] = field(default_factory=dict)


@dataclass
class ProbeRun:
    limit: int
    sequential: list[dict] = field(default_factory=list)
    second_limit: int = 0
    second: list[dict] = field(default_factory=list)
    concurrent: list[dict] | None = None
    cleanup: Cleanup = field(default_factory=Cleanup)
    # After each deciding sequence, before any cleanup: {"limit", "seen_at" (epoch), "first_use" (epoch or None),
    # "counters" ({key: TTL or {"ttl", "type", "scores"}}; None when the quota control cannot see TTLs)}, so
    # windows.py can tell whether the quota comes back.
    windows: list[dict] = field(default_factory=list)
    # Sequences run again instead of judged: {"limit", "why", "cause": "window" | "store"}.
    reruns: list[dict] = field(default_factory=list)
    # A limit no run could decide: {"limit", "why", "cause"}; the verdict blames the store or the window, not the API.
    undecided: list[dict] = field(default_factory=list)
    # After the concurrent burst over-admitted: the same limit sent one request at a time, alternating between
    # separate clients ({"clients", "sent", "accepted", "statuses"}): more than the limit accepted is a limiter
    # that counts per client (connection or API key), not per tenant.
    per_client: list[dict] = field(default_factory=list)
    probe_tenant: str = ""
    api: tuple[str, float] | None = None  # the quota API's connection id and request timeout, for the messages
    window_seconds: int = 3600  # config quota.window_seconds: a counter's window when nothing else says
