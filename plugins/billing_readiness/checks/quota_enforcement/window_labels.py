"""A quota counter's window as its key names it: a period label (`2026-12-04-14`, `20261204`, `2026-12`), an
epoch window number or start, or a word (`minute`, `hourly`, `daily`, ...). Plain Python over key names."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from billing_readiness.core.units import DAY, HOUR, MINUTE

SLACK_SECONDS = 120  # TTL rounding, the probe's own duration, clock skew between us and the API
LONGEST_MONTH = 31 * DAY
# Period labels, tried on every key segment after the tenant: (pattern, unit). A label is a window's name.
_LABELS = (
    (re.compile(r"(\d{4})-(\d{2})-(\d{2})[-T_ ](\d{2})[-:h](\d{2})"), "minute"),
    (re.compile(r"(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})"), "minute"),
    (re.compile(r"(\d{4})-(\d{2})-(\d{2})[-T_ ](\d{2})"), "hour"),
    (re.compile(r"(\d{4})(\d{2})(\d{2})(\d{2})"), "hour"),
    (re.compile(r"(\d{4})-(\d{2})-(\d{2})"), "day"),
    (re.compile(r"(\d{4})(\d{2})(\d{2})"), "day"),
    (re.compile(r"(\d{4})-(\d{2})"), "month"),
    (re.compile(r"(\d{4})(\d{2})"), "month"),
)
UNIT_SECONDS = {"minute": MINUTE, "hour": HOUR, "day": DAY, "month": LONGEST_MONTH}
_WORDS = re.compile(
    r"(?<![a-z])(min|minute|minutely|hour|hourly|day|daily|week|weekly|month|monthly|"
    r"1m|1h|1d|60s|3600s|86400s)(?![a-z])"
)
WORD_SECONDS = {
    "min": MINUTE,
    "minute": MINUTE,
    "minutely": MINUTE,
    "1m": MINUTE,
    "60s": MINUTE,
    "hour": HOUR,
    "hourly": HOUR,
    "1h": HOUR,
    "3600s": HOUR,
    "day": DAY,
    "daily": DAY,
    "1d": DAY,
    "86400s": DAY,
    "week": 7 * DAY,
    "weekly": 7 * DAY,
    "month": LONGEST_MONTH,
    "monthly": LONGEST_MONTH,
}
# Window lengths an epoch window number may count in (key = epoch // length).
EPOCH_WINDOWS = (1, 10, 15, 30, MINUTE, 5 * MINUTE, 10 * MINUTE, 15 * MINUTE, 30 * MINUTE, HOUR, DAY)


@dataclass(frozen=True)
class Label:
    text: str  # the segment as written
    unit: str  # minute / hour / day / month / epoch
    seconds: int | None  # the window's length; None when the label does not say (an epoch window start)
    series: str  # the key with its label replaced by '*': one counter across its windows


def _date_label(segment: str) -> tuple[str, int] | None:
    for pattern, unit in _LABELS:
        m = pattern.fullmatch(segment)
        if not m:
            continue
        parts = [int(x) for x in m.groups()] + [1] * (5 - len(m.groups()))
        y, mo, d, h, mi = parts if unit != "month" else (parts[0], parts[1], 1, 0, 0)
        if unit in ("day", "month"):
            h, mi = 0, 0
        elif unit == "hour":
            mi = 0
        try:
            dt.datetime(y, mo, d, h, mi)
        except ValueError:
            continue
        if 1970 <= y <= 2200:
            return unit, UNIT_SECONDS[unit]
    return None


def _epoch_label(segment: str, seen_at: float) -> tuple[str, int | None] | None:
    """A window number (epoch // length) or a window start in epoch seconds or milliseconds, near `seen_at`."""
    if not segment.isdigit() or len(segment) > 13:
        return None
    n = int(segment)
    for scale in (1, 1000):  # a window's start, in seconds or milliseconds
        start = n / scale
        if seen_at - LONGEST_MONTH - SLACK_SECONDS <= start <= seen_at + SLACK_SECONDS and start > 1e9:
            return "epoch", None
    if n == 0:
        return None
    for length in EPOCH_WINDOWS:
        if n * length - SLACK_SECONDS <= seen_at < (n + 1) * length + SLACK_SECONDS:
            return "epoch", length
    return None


def label(key: str, seen_at: float, tenant: str | None = None) -> Label | None:
    """The key's window label, the last segment that is one (the tenant's own segment never counts)."""
    segments = key.split(":")
    for i in range(len(segments) - 1, -1, -1):
        segment = segments[i]
        if segment == tenant or not segment:
            continue
        found = _date_label(segment) or _epoch_label(segment, seen_at)
        if found:
            series = ":".join([*segments[:i], "*", *segments[i + 1 :]])
            return Label(segment, found[0], found[1], series)
    return None


def key_words_seconds(key: str, tenant: str | None = None) -> int | None:
    """A window length a word of the key names (`queries_hourly`, `per_minute`, `1d`), the longest if several."""
    text = ":".join(s for s in key.lower().split(":") if s != (tenant or "").lower())
    found = [WORD_SECONDS[w] for w in _WORDS.findall(text.replace("_", " ").replace("-", " "))]
    return max(found) if found else None
