"""A dashboard's time range and query interval, computed as Grafana's frontend computes them.

Grafana resolves the time picker (`"time": {"from": "now-7d", "to": "now"}`) in the browser and sends
epoch milliseconds; the panels' `$__interval` comes from the range and the panel's width. Written from
Grafana's `packages/grafana-data/src/datetime/datemath.ts` (`now`, `now-7d`, `now/d`, `now-1M/M`, ISO and
epoch-ms times; "from" rounds down, "to" rounds up to the end of its unit) and `rangeutil.ts`
(`calculateInterval`, `roundInterval`, `describeInterval`).
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from billing_readiness.core.errors import CheckError
from billing_readiness.core.units import DAY, HOUR, MINUTE

UTC = dt.timezone.utc
_MATH = re.compile(r"([+-])(\d+)([yMwdhms])|/([yMwdhms])")
_ISO_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})$")  # Grafana's URL form 20261201T000000
_WEEKDAYS = {"monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5, "sunday": 6}


class TimeRangeError(CheckError):
    """A time the dashboard or config gives cannot be read; the message names it."""


@dataclass(frozen=True)
class TimeRange:
    """A resolved range in epoch milliseconds, and the text it came from (for the report)."""

    from_ms: int
    to_ms: int
    raw_from: str
    raw_to: str
    timezone: str

    @property
    def seconds(self) -> float:
        return (self.to_ms - self.from_ms) / 1000

    def describe(self) -> str:
        def iso(ms: int) -> str:
            return dt.datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")

        return f"{self.raw_from} to {self.raw_to} ({iso(self.from_ms)} to {iso(self.to_ms)}, {self.timezone})"


def zone(name: str | None, browser: str = "UTC") -> tuple[dt.tzinfo, str]:
    """The dashboard's `timezone` ("utc", "browser", "" or an IANA name) as a tzinfo and its name;
    "browser" and "" are the browser's, which `browser` (config `dashboard.browser_timezone`) stands for."""
    text = (name or "").strip()
    if text.lower() in ("", "browser"):
        text = browser
    if text.lower() == "utc":
        return UTC, "UTC"
    try:
        return ZoneInfo(text), text
    except (ZoneInfoNotFoundError, ValueError):
        raise TimeRangeError(
            f"time zone {text!r} is not an IANA time zone name (dashboard 'timezone' or config "
            "key 'dashboard.browser_timezone')"
        ) from None


def _start_of(t: dt.datetime, unit: str, week_start: int) -> dt.datetime:
    if unit == "y":
        return t.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    if unit == "M":
        return t.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if unit == "w":
        day = t.replace(hour=0, minute=0, second=0, microsecond=0)
        return day - dt.timedelta(days=(day.weekday() - week_start) % 7)
    if unit == "d":
        return t.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "h":
        return t.replace(minute=0, second=0, microsecond=0)
    if unit == "m":
        return t.replace(second=0, microsecond=0)
    return t.replace(microsecond=0)


def _add(t: dt.datetime, unit: str, n: int) -> dt.datetime:
    """Calendar arithmetic as moment.js does it: months and years clamp the day to the month's length."""
    if unit in "yM":
        months = t.month - 1 + (n * 12 if unit == "y" else n)
        year, month = t.year + months // 12, months % 12 + 1
        return t.replace(year=year, month=month, day=min(t.day, calendar.monthrange(year, month)[1]))
    seconds = {"w": 7 * DAY, "d": DAY, "h": HOUR, "m": MINUTE, "s": 1}[unit] * n
    if unit in "wd":  # days follow the wall clock across a DST change, as moment does
        naive = t.replace(tzinfo=None) + dt.timedelta(seconds=seconds)
        return naive.replace(tzinfo=t.tzinfo)
    return (t.astimezone(UTC) + dt.timedelta(seconds=seconds)).astimezone(t.tzinfo)


def _end_of(t: dt.datetime, unit: str, week_start: int) -> dt.datetime:
    start = _start_of(t, unit, week_start)
    return _add(start, unit, 1) - dt.timedelta(milliseconds=1)


def parse_time(
    text, now: dt.datetime, *, round_up: bool, tz: dt.tzinfo = UTC, week_start: int = 0, what: str = "time"
) -> dt.datetime:
    """One end of a Grafana time range as an aware datetime (datemath.parse)."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return dt.datetime.fromtimestamp(text / 1000, UTC)
    s = str(text or "").strip()
    if not s:
        raise TimeRangeError(f"{what} is empty")
    if s.isdigit():  # epoch milliseconds, as Grafana's URL and API carry them
        return dt.datetime.fromtimestamp(int(s) / 1000, UTC)
    if s.startswith("now"):
        anchor, math = now.astimezone(tz), s[3:]
    else:
        head, sep, math = s.partition("||")
        anchor = _absolute(head, tz, what)
        if not sep:
            return anchor
    pos, out = 0, anchor
    while pos < len(math):
        m = _MATH.match(math, pos)
        if not m:
            raise TimeRangeError(
                f"{what} {s!r} is not a Grafana time (expected now, now-7d, now/d, now-1M/M, "
                "an ISO time or epoch milliseconds)"
            )
        if m.group(4):
            out = _end_of(out, m.group(4), week_start) if round_up else _start_of(out, m.group(4), week_start)
        else:
            out = _add(out, m.group(3), int(m.group(2)) * (1 if m.group(1) == "+" else -1))
        pos = m.end()
    return out


def _absolute(text: str, tz: dt.tzinfo, what: str) -> dt.datetime:
    compact = _COMPACT.match(text)
    try:
        if compact:
            y, mo, d, h, mi, s = (int(g) for g in compact.groups())
            t = dt.datetime(y, mo, d, h, mi, s)
        elif _ISO_DATE_ONLY.match(text):
            t = dt.datetime.fromisoformat(text)
        else:
            t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise TimeRangeError(
            f"{what} {text!r} is not a Grafana time (expected now, now-7d, now/d, an ISO time or epoch milliseconds)"
        ) from None
    return t if t.tzinfo else t.replace(tzinfo=tz)


def dashboard_range(dashboard: dict, now: dt.datetime, browser_timezone: str = "UTC") -> TimeRange:
    """The range a customer opening the dashboard at `now` sees (its saved `time`; default last 6 hours,
    Grafana's default for a dashboard without one)."""
    time = dashboard.get("time") or {}
    raw_from, raw_to = time.get("from", "now-6h"), time.get("to", "now")
    tz, tz_name = zone(dashboard.get("timezone"), browser_timezone)
    week_start = _WEEKDAYS.get(str(dashboard.get("weekStart") or "").lower(), 6)  # moment's "en": Sunday
    start = parse_time(raw_from, now, round_up=False, tz=tz, week_start=week_start, what="dashboard time.from")
    end = parse_time(raw_to, now, round_up=True, tz=tz, week_start=week_start, what="dashboard time.to")
    if end <= start:
        raise TimeRangeError(
            f"dashboard time range {raw_from!r} to {raw_to!r} is empty or reversed at {now:%Y-%m-%d %H:%M:%S %Z}"
        )
    return TimeRange(int(start.timestamp() * 1000), int(end.timestamp() * 1000), str(raw_from), str(raw_to), tz_name)


_INTERVAL = re.compile(r"^(-?\d+(?:\.\d+)?)(ms|[Mwdhmsy])")
_INTERVAL_SECONDS = {"y": 365 * DAY, "M": 30 * DAY, "w": 7 * DAY, "d": DAY, "h": HOUR, "m": MINUTE, "s": 1, "ms": 0.001}
# rangeutil.roundInterval: (below this many ms, round to this many ms)
_ROUNDING = [
    (10, 1),
    (15, 10),
    (35, 20),
    (75, 50),
    (150, 100),
    (350, 200),
    (750, 500),
    (1500, 1000),
    (3500, 2000),
    (7500, 5000),
    (12500, 10000),
    (17500, 15000),
    (25000, 20000),
    (45000, 30000),
    (90000, 60000),
    (210000, 120000),
    (450000, 300000),
    (750000, 600000),
    (1050000, 900000),
    (1500000, 1200000),
    (2700000, 1800000),
    (5400000, 3600000),
    (9000000, 7200000),
    (16200000, 10800000),
    (32400000, 21600000),
    (86400000, 43200000),
    (604800000, 86400000),
    (1814400000, 604800000),
    (3628800000, 2592000000),
]


def interval_to_ms(text: str, what: str = "interval") -> int:
    """ "30s", "5m", "1h", "250ms" or a bare number of seconds (rangeutil.intervalToMs)."""
    s = str(text).strip()
    try:
        if float(s):
            return int(float(s)) * 1000
    except ValueError:
        pass
    m = _INTERVAL.match(s)
    if not m:
        raise TimeRangeError(f"{what} {s!r} is not an interval (e.g. 30s, 5m, 1h)")
    return int(_INTERVAL_SECONDS[m.group(2)] * 1000 * int(float(m.group(1))))


def round_interval(ms: float) -> int:
    for below, rounded in _ROUNDING:
        if ms < below:
            return rounded
    return 31536000000


def seconds_to_hms(seconds: float) -> str:
    """rangeutil.secondsToHms: the largest whole unit, as $__interval shows it ("1m", "2h", "500ms")."""
    if seconds >= 31536000:
        return f"{int(seconds // 31536000)}y"
    rest = seconds % 31536000
    for unit, size in (("d", DAY), ("h", HOUR), ("m", MINUTE), ("s", 1)):
        if rest // size:
            return f"{int(rest // size)}{unit}"
        rest %= size
    ms = int(seconds * 1000)
    return f"{ms}ms" if ms else "less than a millisecond"


@dataclass(frozen=True)
class Interval:
    ms: int
    text: str  # as $__interval shows it


def calculate_interval(time_range: TimeRange, max_data_points: int, min_interval: str | None = None) -> Interval:
    """The query interval of a panel (rangeutil.calculateInterval): the range over its data points, rounded
    to a "nice" step, never below the panel's min interval."""
    ms = round_interval((time_range.to_ms - time_range.from_ms) / max(1, max_data_points))
    if min_interval:
        ms = max(ms, interval_to_ms(min_interval, "panel interval (min interval)"))
    return Interval(ms, seconds_to_hms(ms / 1000))
