"""Check 1's day-by-day coverage: missing days and partial-loss days of one tenant (plain Python).

A day counts from the tenant's first usage ever on: days before it (a tenant
onboarded during the window) are neither missing nor partial. A complete day
without events is missing; a day with events but under `ratio` of the tenant's
median day (over its counted days with usage) is a partial loss.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass


@dataclass
class PartialDay:
    day: str
    events: int
    median_events: float


def counted(days: list[str], first_usage: str | None) -> list[int]:
    """Indexes of the days that count: from the first usage on (all of them when it is unknown)."""
    return [i for i, d in enumerate(days) if first_usage is None or d >= first_usage]


def missing_days(days: list[str], counts: list[int], first_usage: str | None) -> list[str]:
    return [days[i] for i in counted(days, first_usage) if counts[i] == 0]


def partial_days(days: list[str], counts: list[int], first_usage: str | None, ratio: float) -> list[PartialDay]:
    with_usage = [counts[i] for i in counted(days, first_usage) if counts[i] > 0]
    if len(with_usage) < 3:  # too few days to know what a usual day is
        return []
    median = statistics.median(with_usage)
    return [PartialDay(days[i], counts[i], float(median)) for i in counted(days, first_usage)
            if 0 < counts[i] < ratio * median]
