"""Check 1's day-by-day coverage: missing days and partial-loss days of one tenant (plain Python).

A day counts from the tenant's first usage ever on: days before it (a tenant onboarded during the window) are
neither missing nor partial. A complete day without events is missing.

A partial loss is a day that collapsed against its own neighbourhood, not against the window: fewer events than
`ratio` of the median of its NEIGHBOURS nearest counted days (before and after it) *and* than `ratio` of the
median of the same weekday in the window's other weeks (when there is one). A tenant growing 10x over the window
changes by a few percent from one day to the next, a quiet weekend is quiet every week, so neither trips it.
A tenant's first RAMP_UP_DAYS days from its first usage are never judged (onboarding ramps up from nothing).
"""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass

NEIGHBOURS = 7  # the nearest counted days a day is compared with
RAMP_UP_DAYS = 7  # days from the first usage on that are never a partial loss


@dataclass
class PartialDay:
    day: str
    events: int
    median_events: float  # the neighbourhood's median day


def counted(days: list[str], first_usage: str | None) -> list[int]:
    """Indexes of the days that count: from the first usage on (all of them when it is unknown)."""
    return [i for i, d in enumerate(days) if first_usage is None or d >= first_usage]


def missing_days(days: list[str], counts: list[int], first_usage: str | None) -> list[str]:
    return [days[i] for i in counted(days, first_usage) if counts[i] == 0]


def _ramp_up_end(first_usage: str | None) -> str:
    """The first day judged (ISO): RAMP_UP_DAYS after the first usage ("" when it is unknown: every day)."""
    if first_usage is None:
        return ""
    return (dt.date.fromisoformat(first_usage) + dt.timedelta(days=RAMP_UP_DAYS)).isoformat()


def _nearest(idx: list[int], p: int, n: int) -> list[int]:
    """The `n` counted days nearest idx[p] (idx sorted), the earlier first on a tie: idx walked both ways."""
    out: list[int] = []
    i, left, right = idx[p], p - 1, p + 1
    while len(out) < n and (left >= 0 or right < len(idx)):
        if right >= len(idx) or (left >= 0 and i - idx[left] <= idx[right] - i):
            out.append(idx[left])
            left -= 1
        else:
            out.append(idx[right])
            right += 1
    return out


def partial_days(days: list[str], counts: list[int], first_usage: str | None, ratio: float) -> list[PartialDay]:
    idx = [i for i in counted(days, first_usage) if counts[i] > 0]
    if len(idx) < 4:  # too few days to know what a usual day is
        return []
    judged_from, top = _ramp_up_end(first_usage), max(counts[i] for i in idx)
    out = []
    for p, i in enumerate(idx):
        # a day at or above `ratio` of the busiest day is at or above `ratio` of any median of other days
        if counts[i] >= ratio * top or days[i] < judged_from:
            continue
        near = statistics.median(counts[j] for j in _nearest(idx, p, NEIGHBOURS))
        weekday = [counts[j] for j in idx if j != i and (j - i) % 7 == 0]
        if counts[i] < ratio * near and (not weekday or counts[i] < ratio * statistics.median(weekday)):
            out.append(PartialDay(days[i], counts[i], float(near)))
    return out
