"""Check 4's quota windows: does a counter expire when its window ends, so the tenant gets its quota back?

Looked at before the probe cleans up, after each probe limit: the probe tenant's counter keys and their TTLs,
and the reset the 429 announced. A counter's window is read from its period label, the last key segment as
M12.1 writes it (`2025-01-15-14` an hour, `2025-01-15` a day, `2025-01` a month); a key without one may live at
most MAX_WINDOW_SECONDS (a month). Plain Python over what the probe saw.
"""
from __future__ import annotations

import datetime as dt
import email.utils
import re

from billing_readiness.results import FAIL, WARN
from billing_readiness.timewindow import utc_text

UTC = dt.timezone.utc
MAX_WINDOW_SECONDS = 31 * 86400 + 3600  # a counter without a period label: at most a month (plus an hour)
SLACK_SECONDS = 120  # TTL rounding, the probe's own duration, clock skew between us and the API
_LABELS = (
    (re.compile(r"^(\d{4})-(\d{2})-(\d{2})-(\d{2})$"), "hour"),
    (re.compile(r"^(\d{4})-(\d{2})-(\d{2})$"), "day"),
    (re.compile(r"^(\d{4})-(\d{2})$"), "month"),
)


def window_end(key: str) -> dt.datetime | None:
    """When the counter's period ends, from its label; None when the key has no recognisable label."""
    label = key.rsplit(":", 1)[-1]
    for pattern, unit in _LABELS:
        m = pattern.fullmatch(label)
        if not m:
            continue
        parts = [int(x) for x in m.groups()]
        try:
            if unit == "hour":
                return dt.datetime(*parts[:3], parts[3], tzinfo=UTC) + dt.timedelta(hours=1)
            if unit == "day":
                return dt.datetime(*parts, tzinfo=UTC) + dt.timedelta(days=1)
            y, mo = parts
            return dt.datetime(y + mo // 12, mo % 12 + 1, 1, tzinfo=UTC)
        except ValueError:
            return None
    return None


def judge_counters(counters: dict[str, int], seen_at: float) -> list[tuple[str, str, str]]:
    """(severity, code, message) for counters that would not give the quota back: no expiry (TTL -1), or an
    expiry after the end of their window. `counters` maps key -> TTL in seconds as Redis reports it."""
    out = []
    for key, ttl in sorted(counters.items()):
        if ttl == -2:  # gone between listing and reading: nothing to judge
            continue
        if ttl == -1:
            out.append((FAIL, "counter_never_expires",
                        f"Quota counter {key} has no expiry: once a tenant reaches its limit it stays blocked for "
                        "good (the window never resets)."))
            continue
        end = window_end(key)
        expires = seen_at + ttl
        if end is not None and expires > end.timestamp() + SLACK_SECONDS:
            out.append((FAIL, "counter_outlives_window",
                        f"Quota counter {key} expires at {utc_text(expires)}, {ttl - (end.timestamp() - seen_at):,.0f}s "
                        f"after its window ends ({utc_text(end.timestamp())}): the tenant gets its quota back late."))
        elif end is None and ttl > MAX_WINDOW_SECONDS:
            out.append((FAIL, "counter_outlives_window",
                        f"Quota counter {key} lives {ttl:,}s (more than a month): no quota window is that long."))
    return out


def announced_reset(headers: dict[str, str], seen_at: float) -> float | None:
    """The reset the 429 announced, as epoch seconds: X-RateLimit-Reset (epoch, or seconds when small), else
    Retry-After (seconds or an HTTP date)."""
    h = {k.lower(): v.strip() for k, v in (headers or {}).items()}
    try:
        if "x-ratelimit-reset" in h:
            value = float(h["x-ratelimit-reset"])
            return value if value > 1_000_000_000 else seen_at + value
        if "retry-after" in h:
            value = h["retry-after"]
            if value.isdigit():
                return seen_at + int(value)
            return email.utils.parsedate_to_datetime(value).timestamp()
    except (ValueError, TypeError):
        return None
    return None


def judge_reset(headers: dict[str, str], counters: dict[str, int], seen_at: float) -> list[tuple[str, str, str]]:
    """A reset in the past, or later than every counter's window, is a warning: clients would retry wrongly."""
    reset = announced_reset(headers, seen_at)
    if reset is None:
        return []
    if reset < seen_at - SLACK_SECONDS:
        return [(WARN, "reset_in_the_past",
                 f"The 429 announced the quota resets at {utc_text(reset)}, before the refusal itself ({utc_text(seen_at)}).")]
    ends = [e.timestamp() for e in map(window_end, counters) if e is not None]
    latest = max(ends) if ends else seen_at + MAX_WINDOW_SECONDS
    if reset > latest + SLACK_SECONDS:
        return [(WARN, "reset_beyond_window",
                 f"The 429 announced the quota resets at {utc_text(reset)}, after every counter's window ends "
                 f"({utc_text(latest)}).")]
    return []


