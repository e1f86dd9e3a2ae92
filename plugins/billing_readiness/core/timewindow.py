"""Calendar arithmetic: lookback windows and billing months, in a named time zone (UTC by default).

Instants are UTC; days and months are those of a zone (the rollups' zone for check 1's days, the billing zone
for check 2's month), so a day may last 23 or 25 hours (DST) and start on a half hour. Everything is half-open
([start, end)): an event at 23:59:59 local on the last day of a month belongs to that month and 00:00:00 the
next day does not.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UTC = dt.timezone.utc
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_UTC_NAMES = {
    "UTC",
    "Etc/UTC",
    "Etc/UCT",
    "UCT",
    "GMT",
    "Etc/GMT",
    "Etc/GMT+0",
    "Etc/GMT-0",
    "Etc/GMT0",
    "GMT0",
    "Etc/Universal",
    "Universal",
    "Etc/Zulu",
    "Zulu",
    "Etc/Greenwich",
    "Greenwich",
}


@lru_cache(maxsize=64)
def zone(name: str) -> dt.tzinfo:
    """A zone by its IANA name; ValueError naming it when Python's zone database does not know it."""
    if name in _UTC_NAMES:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not an IANA time zone name known here (e.g. 'UTC', 'Europe/Berlin')") from None


def same_zone(a: str, b: str) -> bool:
    """Whether two zone names cut days the same way (every UTC alias is UTC)."""
    return a == b or (zone(a) is UTC and zone(b) is UTC)


def day_start(day: dt.date, tz: str) -> dt.datetime:
    """The first instant of `day` in zone `tz` (where DST skips midnight, the first instant that exists), in UTC:
    differences of aware datetimes in one zone are wall-clock differences in Python, so instants stay UTC."""
    return dt.datetime.combine(day, dt.time(), zone(tz)).astimezone(UTC)


def local_text(t: dt.datetime, tz: str) -> str:
    """An instant as the wall clock of `tz` shows it, with the zone: "2026-11-01 00:00 Europe/Berlin"."""
    return f"{t.astimezone(zone(tz)):%Y-%m-%d %H:%M} {tz}"


def utc(t: dt.datetime) -> dt.datetime:
    if t.tzinfo is None:
        raise ValueError("naive datetime: pass an aware UTC datetime")
    return t.astimezone(UTC)


def epoch(t: dt.datetime) -> int:
    return int(utc(t).timestamp())


def utc_text(epoch_s: float, seconds: bool = True) -> str:
    """An epoch as the reports write an instant: "2026-12-01 00:00:30 UTC" (or to the minute)."""
    return dt.datetime.fromtimestamp(int(epoch_s), UTC).strftime(
        "%Y-%m-%d %H:%M:%S UTC" if seconds else "%Y-%m-%d %H:%M UTC"
    )


@dataclass(frozen=True)
class Window:
    """`days` complete days of zone `tz` before today, plus today up to `now` (the run's anchor: run_anchor.py).
    `clock` is the wall clock when the check started, for what only it can say (an event dated in the
    future); None: the same as `now`."""

    now: dt.datetime
    days: int
    clock: dt.datetime | None = None
    tz: str = "UTC"

    @property
    def future_after(self) -> dt.datetime:
        """Later than this, an event is dated in the future: the later of the anchor and the wall clock."""
        return max(self.now, self.clock or self.now)

    @property
    def today(self) -> dt.date:
        return utc(self.now).astimezone(zone(self.tz)).date()

    @property
    def first_day(self) -> dt.date:
        return self.today - dt.timedelta(days=self.days)

    @property
    def start(self) -> dt.datetime:
        return day_start(self.first_day, self.tz)

    @property
    def today_start(self) -> dt.datetime:
        return day_start(self.today, self.tz)

    @property
    def tomorrow_start(self) -> dt.datetime:
        """The end of today (exclusive): 23, 24 or 25 hours after today_start."""
        return day_start(self.today + dt.timedelta(days=1), self.tz)

    def complete_days(self) -> list[dt.date]:
        return [self.first_day + dt.timedelta(days=i) for i in range(self.days)]


@dataclass(frozen=True)
class Month:
    """A calendar month of zone `tz` (the billing time zone)."""

    year: int
    month: int
    tz: str = "UTC"

    @classmethod
    def parse(cls, text: str, tz: str = "UTC") -> Month:
        m = _MONTH.fullmatch(text or "")
        if not m:
            raise ValueError(f"not a month in YYYY-MM form: {text!r}")
        return cls(int(m.group(1)), int(m.group(2)), tz)

    @classmethod
    def containing(cls, t: dt.datetime, tz: str = "UTC") -> Month:
        t = utc(t).astimezone(zone(tz))
        return cls(t.year, t.month, tz)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def first_day(self) -> dt.date:
        return dt.date(self.year, self.month, 1)

    @property
    def start(self) -> dt.datetime:
        return day_start(self.first_day, self.tz)

    @property
    def end(self) -> dt.datetime:
        """Exclusive: the first instant of the next month."""
        return self.next().start

    @property
    def last_day(self) -> dt.date:
        return self.next().first_day - dt.timedelta(days=1)

    def next(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1, self.tz)

    def previous(self) -> Month:
        return Month(self.year - (self.month == 1), (self.month - 2) % 12 + 1, self.tz)

    def is_closed(self, now: dt.datetime) -> bool:
        return self.end <= utc(now)

    def in_zone(self, tz: str) -> Month:
        """The month of the same name in another zone (its days cut there)."""
        return Month(self.year, self.month, tz)


def last_closed_month(now: dt.datetime, tz: str = "UTC") -> Month:
    return Month.containing(now, tz).previous()
