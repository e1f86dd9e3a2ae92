"""Check 1's freshness: has the metering system (or a large tenant) stopped sending? Plain Python.

A stall is a silence that is both long in absolute terms and far longer than the system's usual quiet spell at
the same time of day: quiet nights and quiet weekends are quiet every week, a stall is not.

- System: over the window, the minutes in which events were ingested (and, separately, in which events are
  dated), kept as `DayBounds`: per day counted back from now, the first and the last such minute (all that a
  silence around the same instant of each earlier day needs). The current silence is `now - newest minute`. The usual
  quiet spell at this time of day is measured on
  every earlier day of the window: the length of the silence that contained the same instant that day. Usual =
  the larger of the 75th percentile over all those days and the median over the same weekday. It is a stall when
  the silence exceeds `max_silence` and `factor` x usual, and the same span of the day (as long as the silence,
  ending at the same time of day) usually holds at least `min_active` minutes with activity: the smaller of the
  median over all earlier days and over the same weekday. A sparse system (a few events an hour on a quiet
  night) is often silent for an hour or two; that is a stall only when activity would have been expected.
- Tenant: silent for at least `tenant_silence` seconds, and its own history says it normally sends at least
  `min_events` events in such a span at this time of day: the smaller of the median over the earlier days and the
  median over the same weekday (so a tenant that never sends on Sundays is not missed on a Sunday).
"""

from __future__ import annotations

import bisect
import statistics
from collections.abc import Callable
from dataclasses import dataclass

from billing_readiness.core.quantile import quantile
from billing_readiness.core.units import DAY, MINUTES_PER_DAY


@dataclass
class Silence:
    series: str  # "ingestion" or "event time"
    newest: int | None  # epoch seconds of the newest minute with activity (None: nothing in the window)
    silence_s: int
    usual_s: int  # the usual quiet spell at this time of day
    threshold_s: int
    samples: int  # earlier days measured
    usual_active: float  # minutes with activity the same span of the day usually holds
    min_active: int

    @property
    def stalled(self) -> bool:
        expected = self.newest is None or self.usual_active >= self.min_active
        return self.silence_s > self.threshold_s and expected


class DayBounds:
    """An activity series (its minutes, sorted) cut into days counted back from now: day d holds the minutes m
    with (now_min - m) // MINUTES_PER_DAY == d (d = -1: the few minutes after now that clock skew forgives). For
    each day, the first and the last minute with activity: spell_at() needs nothing else."""

    def __init__(self, minutes, now_min: int):
        self.now_min, self.minutes = now_min, sorted(minutes)
        self.first: dict[int, int] = {}
        self.last: dict[int, int] = {}
        for m in self.minutes:  # ascending: a day's first minute is met first, its last minute last
            d = (now_min - m) // MINUTES_PER_DAY
            self.first.setdefault(d, m)
            self.last[d] = m
        self.days = sorted(self.last)

    @classmethod
    def from_minutes(cls, minutes, now_min: int) -> DayBounds:
        return cls(minutes, now_min)

    def active_between(self, lo: int, hi: int) -> int:
        """Minutes with activity in (lo, hi]."""
        return bisect.bisect_right(self.minutes, hi) - bisect.bisect_right(self.minutes, lo)

    @property
    def newest(self) -> int | None:
        return self.last[self.days[0]] if self.days else None

    def spell_at(self, k: int) -> int | None:
        """spell_at(minutes, now_min - k days) for k >= 1."""
        i = bisect.bisect_left(self.days, k)  # the newest day at or before the instant ...
        if i == len(self.days):
            return None
        prev = self.last[self.days[i]]
        if prev == self.now_min - k * MINUTES_PER_DAY:
            return 0
        if i == 0:  # ... and the oldest day after it
            return None
        return (self.first[self.days[i - 1]] - prev) * 60


def silence(
    series: str, bounds: DayBounds, now: int, days: int, max_silence: int, factor: float, min_active: int
) -> Silence:
    """The current silence of one activity series against its usual quiet spell and its usual activity."""
    newest = bounds.newest
    current = max(0, now - (newest * 60 + 59)) if newest is not None else days * DAY
    all_days, same_weekday = [], []
    for k in range(1, days + 1):
        spell = bounds.spell_at(k)
        if spell is None:
            continue
        all_days.append(spell)
        if k % 7 == 0:
            same_weekday.append(spell)
    usual = 0.0
    if all_days:
        usual = quantile(all_days, 0.75, "linear")
    if same_weekday:
        usual = max(usual, statistics.median(same_weekday))
    return Silence(
        series,
        newest * 60 if newest is not None else None,
        int(current),
        int(usual),
        int(max(max_silence, factor * usual)),
        len(all_days),
        usual_activity(bounds, days),
        min_active,
    )


def usual_in_span(amount: Callable[[int], float | None], days: int) -> float:
    """What a span usually holds at this time of day: amount(k), the span shifted back k days (None once it starts
    before the history does), over k = 1..days; the smaller of the median over every earlier day and over the same
    weekday, so that a series quiet on Sundays is not expected to be busy on a Sunday."""
    per_day: list[float] = []
    same_weekday: list[float] = []
    for k in range(1, days + 1):
        x = amount(k)
        if x is None:
            break
        per_day.append(x)
        if k % 7 == 0:
            same_weekday.append(x)
    if not per_day:
        return 0.0
    usual = statistics.median(per_day)
    return float(min(usual, statistics.median(same_weekday)) if same_weekday else usual)


def usual_activity(bounds: DayBounds, days: int) -> float:
    """Minutes with activity the span (newest, now] usually holds at this time of day (usual_in_span)."""
    newest, now_min = bounds.newest, bounds.now_min
    if newest is None:
        return 0.0

    def active(k: int) -> float | None:
        lo = newest - k * MINUTES_PER_DAY
        return None if lo < bounds.minutes[0] else bounds.active_between(lo, now_min - k * MINUTES_PER_DAY)

    return usual_in_span(active, days)


def expected_events(hours: list[tuple[int, int]], since: int, now: int, days: int) -> float:
    """What a tenant usually sends in [since, now) at this time of day: events per hour (epoch of the hour,
    count) shifted back k days, the smaller of the median over every earlier day and over the same weekday.
    An hour is usage_hourly's, cut in the rollups' zone: it may start on a half hour (Asia/Kolkata), so each
    counts by its overlap with the span, wherever it starts."""
    if not hours:
        return 0.0
    starts = sorted(h for h, _ in hours)
    counts = dict(hours)

    def sent(k: int) -> float | None:
        a, b = since - k * DAY, now - k * DAY
        if a < starts[0]:
            return None
        total = 0.0
        for h in starts[bisect.bisect_left(starts, a - 3600 + 1) : bisect.bisect_left(starts, b)]:
            overlap = min(b, h + 3600) - max(a, h)
            if overlap > 0:
                total += counts[h] * overlap / 3600
        return total

    return usual_in_span(sent, days)
