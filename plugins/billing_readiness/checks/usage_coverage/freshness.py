"""Check 1's freshness: has the metering system (or a large tenant) stopped sending? Plain Python.

A stall is a silence that is both long in absolute terms and far longer than the system's usual quiet spell at
the same time of day: quiet nights and quiet weekends are quiet every week, a stall is not.

- System: over the window, the minutes in which events were ingested (and, separately, in which events are
  dated). The current silence is `now - newest minute`. The usual quiet spell at this time of day is measured on
  every earlier day of the window: the length of the silence that contained the same instant that day. Usual =
  the larger of the 75th percentile over all those days and the median over the same weekday. It is a stall when
  the silence exceeds `max_silence` and `factor` x usual.
- Tenant: silent for at least `tenant_silence` seconds, and its own history says it normally sends at least
  `min_events` events in such a span at this time of day: the smaller of the median over the earlier days and the
  median over the same weekday (so a tenant that never sends on Sundays is not missed on a Sunday).
"""
from __future__ import annotations

import bisect
import statistics
from dataclasses import dataclass

DAY = 86400


@dataclass
class Silence:
    series: str  # "ingestion" or "event time"
    newest: int | None  # epoch seconds of the newest minute with activity (None: nothing in the window)
    silence_s: int
    usual_s: int  # the usual quiet spell at this time of day
    threshold_s: int
    samples: int  # earlier days measured

    @property
    def stalled(self) -> bool:
        return self.silence_s > self.threshold_s


def spell_at(minutes: list[int], t_min: int) -> int | None:
    """Length in seconds of the silence containing minute `t_min` (0 when that minute had activity); None when
    there is no activity before it (the window does not reach back that far)."""
    i = bisect.bisect_right(minutes, t_min)
    if i == 0:
        return None
    prev = minutes[i - 1]
    if prev == t_min:
        return 0
    nxt = minutes[i] if i < len(minutes) else None
    return (nxt - prev) * 60 if nxt is not None else None


def _quantile(values: list[int], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def silence(series: str, minutes: list[int], now: int, days: int, max_silence: int, factor: float) -> Silence:
    """The current silence of one activity series (sorted epoch minutes) against its usual quiet spell."""
    now_min = now // 60
    newest = minutes[-1] if minutes else None
    current = max(0, now - (newest * 60 + 59)) if newest is not None else days * DAY
    all_days, same_weekday = [], []
    for k in range(1, days + 1):
        spell = spell_at(minutes, now_min - k * DAY // 60)
        if spell is None:
            continue
        all_days.append(spell)
        if k % 7 == 0:
            same_weekday.append(spell)
    usual = 0.0
    if all_days:
        usual = _quantile(all_days, 0.75)
    if same_weekday:
        usual = max(usual, statistics.median(same_weekday))
    return Silence(series, newest * 60 if newest is not None else None, int(current), int(usual),
                   int(max(max_silence, factor * usual)), len(all_days))


def expected_events(hours: list[tuple[int, int]], since: int, now: int, days: int) -> float:
    """What a tenant usually sends in [since, now) at this time of day: events per hour (epoch of the hour,
    count) shifted back k days, the smaller of the median over every earlier day and over the same weekday."""
    counts = dict(hours)
    if not counts:
        return 0.0
    first_hour = min(counts)
    per_day, same_weekday = [], []
    for k in range(1, days + 1):
        a, b = since - k * DAY, now - k * DAY
        if a < first_hour:
            break
        total = 0.0
        h = a - a % 3600
        while h < b:
            overlap = min(b, h + 3600) - max(a, h)
            total += counts.get(h, 0) * overlap / 3600
            h += 3600
        per_day.append(total)
        if k % 7 == 0:
            same_weekday.append(total)
    if not per_day:
        return 0.0
    usual = statistics.median(per_day)
    return min(usual, statistics.median(same_weekday)) if same_weekday else usual
