"""Check 4's quota windows: does the tenant get its quota back when its window ends, and not before it is due?

Judged by what a tenant experiences, never by one implementation's key names or TTLs (M12.1 leaves them open):

- A counter whose key carries its window (a period label such as `2026-12-04-14`, `20261204`, `2026-12`, or an
  epoch window number) resets by construction: the next window counts in a new key. Its TTL is garbage
  collection only; no TTL at all is a warning about memory, never a failed quota.
- A counter whose key never changes must expire within one window length of its first use (a fixed window
  from first use expires exactly then; one aligned to the clock expires sooner); no expiry fails.
- A sliding log (a sorted set of request times) forgets each request one window after it: recognised by its
  type and its scores, it needs no expiry to reset; without any it is a memory warning.
- The reset a 429 announces (X-RateLimit-Reset, Retry-After, RateLimit t=) lies between the refusal and one
  window after it.

A window's length comes from the key's label, else a word in the key (`minute`, `hourly`, `daily`, ...), else
the API's RateLimit-Policy `w=`, else config `quota.window_seconds`. `crossed()` tells when a window ended while
a probe limit was running (two labels of one counter, a remaining count that went up, a passed announced
reset), so that limit is run again instead of judged. Plain Python over what the probe saw.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import itertools
import re
from dataclasses import dataclass

from billing_readiness.checks.quota_enforcement.window_labels import SLACK_SECONDS, key_words_seconds, label
from billing_readiness.core.results import FAIL, WARN, Severity
from billing_readiness.core.timewindow import utc_text
from billing_readiness.core.units import DAY, HOUR, MINUTE

UTC = dt.timezone.utc


@dataclass(frozen=True)
class Counter:
    """One key of the probe tenant as the API left it: Redis type ("string", "zset", "hash", ...), TTL seconds
    (-1 none, -2 gone) and, for a sorted set, its lowest and highest score."""

    key: str
    ttl: int
    kind: str = "string"
    scores: tuple[float, float] | None = None

    @classmethod
    def of(cls, key: str, seen) -> Counter:
        """From what a quota control reports: a TTL, or {"ttl", "type", "scores"}."""
        if isinstance(seen, dict):
            scores = seen.get("scores")
            return cls(
                key,
                int(seen.get("ttl", -1)),
                str(seen.get("type") or "string"),
                (float(scores[0]), float(scores[1])) if scores else None,
            )
        return cls(key, int(seen))


def _headers(headers: dict | None) -> dict[str, str]:
    return {str(k).lower(): str(v).strip() for k, v in (headers or {}).items()}


def policy_seconds(headers: dict | None) -> list[int]:
    """The window lengths a RateLimit-Policy (or X-RateLimit-Policy / -Window) header announces (w=...)."""
    h = _headers(headers)
    out = []
    for name in ("ratelimit-policy", "x-ratelimit-policy"):
        out += [int(w) for w in re.findall(r"(?:^|[;,\s])w=(\d+)", h.get(name, ""))]
    if h.get("x-ratelimit-window", "").isdigit():
        out.append(int(h["x-ratelimit-window"]))
    return [w for w in out if w > 0]


def remaining(headers: dict | None) -> int | None:
    """What the response says is left of the quota: X-RateLimit-Remaining, RateLimit-Remaining or RateLimit r=."""
    h = _headers(headers)
    for name in ("x-ratelimit-remaining", "ratelimit-remaining"):
        if h.get(name, "").lstrip("-").isdigit():
            return int(h[name])
    m = re.search(r"(?:^|[;,\s])r=(\d+)", h.get("ratelimit", ""))
    return int(m.group(1)) if m else None


def announced_reset(headers: dict | None, seen_at: float) -> float | None:
    """The reset a response announces, as epoch seconds: X-RateLimit-Reset (epoch, epoch ms, or seconds when
    small), RateLimit t= or RateLimit-Reset (seconds), else Retry-After (seconds or an HTTP date)."""
    h = _headers(headers)
    try:
        if "x-ratelimit-reset" in h:
            value = float(h["x-ratelimit-reset"])
            if value > 1e12:
                return value / 1000
            return value if value > 1e9 else seen_at + value
        m = re.search(r"(?:^|[;,\s])t=(\d+)", h.get("ratelimit", ""))
        if m:
            return seen_at + int(m.group(1))
        if h.get("ratelimit-reset", "").isdigit():
            return seen_at + int(h["ratelimit-reset"])
        if "retry-after" in h:
            retry = str(h["retry-after"])
            if retry.isdigit():
                return seen_at + int(retry)
            return email.utils.parsedate_to_datetime(retry).timestamp()
    except (ValueError, TypeError, IndexError):
        return None
    return None


def window_seconds(
    counter: Counter, seen_at: float, tenant: str | None, announced: list[int], configured: int
) -> tuple[int, str]:
    """The counter's window length and where it came from."""
    lab = label(counter.key, seen_at, tenant)
    if lab and lab.seconds:
        return lab.seconds, f"its label {lab.text!r}"
    words = key_words_seconds(counter.key, tenant)
    if words:
        return words, "its name"
    if announced:
        return max(announced), "the API's RateLimit-Policy"
    return configured, "config quota.window_seconds"


def _span(seconds: int) -> str:
    for unit, size in (("day", DAY), ("hour", HOUR), ("minute", MINUTE)):
        if seconds >= size and seconds % size == 0:
            n = seconds // size
            return f"{n} {unit}{'s' if n > 1 else ''}"
    return f"{seconds}s"


def judge_counters(
    counters: dict,
    seen_at: float,
    first_use: float | None = None,
    tenant: str | None = None,
    announced: list[int] | None = None,
    configured: int = HOUR,
) -> list[tuple[Severity, str, str]]:
    """(severity, code, message) for counters that would not give the quota back in time. `counters` maps each
    key to its TTL or to {"ttl", "type", "scores"}; `first_use` is when the limit's first request was sent
    (the counters were empty before it)."""
    out = []
    start = first_use if first_use is not None else seen_at
    for key in sorted(counters):
        c = Counter.of(key, counters[key])
        if c.ttl == -2:  # gone between listing and reading: nothing to judge
            continue
        length, source = window_seconds(c, seen_at, tenant, announced or [], configured)
        if c.kind == "zset":
            out += _judge_log(c, seen_at, start, length)
            continue
        lab = label(c.key, seen_at, tenant)
        if lab is not None:  # the next window counts in a new key: the TTL only collects the old one
            if c.ttl == -1:
                out.append(
                    (
                        WARN,
                        "counter_never_collected",
                        f"Quota counter {key} carries its window ({lab.text}) but has no expiry: the quota "
                        "resets (the next window counts in a new key), but every window leaves a key in the "
                        "quota store for good. Give the counters a TTL (e.g. EXPIRE key <window> NX).",
                    )
                )
            continue
        if c.ttl == -1:
            out.append(
                (
                    FAIL,
                    "counter_never_expires",
                    f"Quota counter {key} has no expiry and no window in its name: once a tenant reaches its "
                    "limit it stays blocked for good (the window never resets).",
                )
            )
            continue
        expires, due = seen_at + c.ttl, start + length
        if expires > due + SLACK_SECONDS:
            out.append(
                (
                    FAIL,
                    "counter_outlives_window",
                    f"Quota counter {key} expires at {utc_text(expires)}, {expires - due:,.0f}s later than one "
                    f"window ({_span(length)}, from {source}) after its first use at {utc_text(start)}: the "
                    "tenant gets its quota back late.",
                )
            )
    return out


def _judge_log(c: Counter, seen_at: float, start: float, length: int) -> list[tuple[Severity, str, str]]:
    """A sliding log: its scores are the request times (seconds or milliseconds) of this limit's requests."""
    out = []
    if c.scores is not None:
        low, high = c.scores
        scale = 1000 if high > 1e12 else 1
        if not (start - SLACK_SECONDS <= low / scale and high / scale <= seen_at + SLACK_SECONDS):
            out.append(
                (
                    WARN,
                    "sliding_log_unrecognised",
                    f"Quota key {c.key} is a sorted set whose scores ({low:.0f}..{high:.0f}) are not the "
                    "probe's request times: whether its entries leave the window was not checked.",
                )
            )
    if c.ttl == -1:
        out.append(
            (
                WARN,
                "counter_never_collected",
                f"Quota log {c.key} (a sliding window of {_span(length)}) has no expiry: requests leave the "
                "window as it slides, but an idle tenant's log stays in the quota store for good. Give it a "
                "TTL of one window.",
            )
        )
    return out


def judge_reset(headers: dict | None, seen_at: float, longest: int) -> list[tuple[Severity, str, str]]:
    """The reset a 429 announced must lie between the refusal and one window (`longest`) after it."""
    reset = announced_reset(headers, seen_at)
    if reset is None:
        return []
    if reset < seen_at - SLACK_SECONDS:
        return [
            (
                WARN,
                "reset_in_the_past",
                f"The 429 announced the quota resets at {utc_text(reset)}, before the refusal itself "
                f"({utc_text(seen_at)}).",
            )
        ]
    if reset > seen_at + longest + SLACK_SECONDS:
        return [
            (
                WARN,
                "reset_beyond_window",
                f"The 429 announced the quota resets at {utc_text(reset)}, more than one window "
                f"({_span(longest)}) after the refusal ({utc_text(seen_at)}): clients would wait too long.",
            )
        ]
    return []


def crossed(responses: list[dict], counters: dict | None, seen_at: float, tenant: str | None = None) -> str | None:
    """Why a window ended while these responses were being collected (so they cannot decide), or None.
    Responses carry "sent_at" (epoch) where the hook records it."""
    series: dict[str, set[str]] = {}
    for key in counters or {}:
        lab = label(key, seen_at, tenant)
        if lab is not None:
            series.setdefault(lab.series, set()).add(lab.text)
    for name, labels in sorted(series.items()):
        if len(labels) > 1:
            return f"the counter {name} was written under {len(labels)} windows ({', '.join(sorted(labels))})"
    left = [(r, remaining(r.get("headers"))) for r in responses if r.get("status") and 200 <= r["status"] < 300]
    values = [(r, v) for r, v in left if v is not None]
    for (_, a), (_, b) in itertools.pairwise(values):
        if b > a:
            return f"the remaining quota went up from {a} to {b} between two requests"
    for i, r in enumerate(responses):
        sent = r.get("sent_at")
        if sent is None:
            continue
        reset = announced_reset(r.get("headers"), sent) if "x-ratelimit-reset" in _headers(r.get("headers")) else None
        later = [float(x["sent_at"]) for x in responses[i + 1 :] if x.get("sent_at") is not None]
        if reset is not None and later and max(later) >= reset + 1:
            return f"a later request was sent after the reset the API announced ({utc_text(reset)})"
    return None
