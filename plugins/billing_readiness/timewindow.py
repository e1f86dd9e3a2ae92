"""UTC calendar arithmetic: lookback windows and billing months.

Everything is UTC and half-open ([start, end)), so an event at 23:59:59 on the
last day of a month belongs to that month and 00:00:00 the next day does not.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

UTC = dt.timezone.utc
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def utc(t: dt.datetime) -> dt.datetime:
    if t.tzinfo is None:
        raise ValueError("naive datetime: pass an aware UTC datetime")
    return t.astimezone(UTC)


def epoch(t: dt.datetime) -> int:
    return int(utc(t).timestamp())


def utc_text(epoch_s: float, seconds: bool = True) -> str:
    """An epoch as the reports write an instant: "2026-12-01 00:00:30 UTC" (or to the minute)."""
    return dt.datetime.fromtimestamp(int(epoch_s), UTC).strftime("%Y-%m-%d %H:%M:%S UTC" if seconds else "%Y-%m-%d %H:%M UTC")


@dataclass(frozen=True)
class Window:
    """`days` complete UTC days before today, plus today up to `now` (the run's anchor: run_anchor.py).
    `clock` is the wall clock when the check started, for what only it can say (an event dated in the
    future); None: the same as `now`."""

    now: dt.datetime
    days: int
    clock: dt.datetime | None = None

    @property
    def future_after(self) -> dt.datetime:
        """Later than this, an event is dated in the future: the later of the anchor and the wall clock."""
        return max(self.now, self.clock or self.now)

    @property
    def today(self) -> dt.date:
        return utc(self.now).date()

    @property
    def first_day(self) -> dt.date:
        return self.today - dt.timedelta(days=self.days)

    @property
    def start(self) -> dt.datetime:
        return dt.datetime.combine(self.first_day, dt.time(), UTC)

    @property
    def today_start(self) -> dt.datetime:
        return dt.datetime.combine(self.today, dt.time(), UTC)

    def complete_days(self) -> list[dt.date]:
        return [self.first_day + dt.timedelta(days=i) for i in range(self.days)]


@dataclass(frozen=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> "Month":
        m = _MONTH.fullmatch(text or "")
        if not m:
            raise ValueError(f"not a month in YYYY-MM form: {text!r}")
        return cls(int(m.group(1)), int(m.group(2)))

    @classmethod
    def containing(cls, t: dt.datetime) -> "Month":
        t = utc(t)
        return cls(t.year, t.month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def start(self) -> dt.datetime:
        return dt.datetime(self.year, self.month, 1, tzinfo=UTC)

    @property
    def end(self) -> dt.datetime:
        """Exclusive: the first instant of the next month."""
        return self.next().start

    @property
    def last_day(self) -> dt.date:
        return (self.end - dt.timedelta(days=1)).date()

    def next(self) -> "Month":
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    def previous(self) -> "Month":
        return Month(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    def is_closed(self, now: dt.datetime) -> bool:
        return self.end <= utc(now)


def last_closed_month(now: dt.datetime) -> Month:
    return Month.containing(now).previous()
