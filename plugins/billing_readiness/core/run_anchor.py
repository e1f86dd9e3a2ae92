"""The instant a run checks "as of": its window, its last closed month and its freshness are measured from
here, so a task that is retried, or cleared and re-run a day later, checks the same window and the same month.

Scheduled runs (and backfills) anchor on the end of their data interval: the nightly run of 03:00 checks
as of 03:00 whenever a worker picks it up. Other runs (manual, asset-triggered) on `run_after`, the time
they were triggered. Never later than the wall clock: an anchor in the future would call real events late.
What only the wall clock can say (an event dated in the future) is measured against the wall clock.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

INTERVAL_RUN_TYPES = ("scheduled", "backfill")


@dataclass(frozen=True)
class Anchor:
    at: dt.datetime  # UTC, whole seconds
    source: str  # "data_interval_end", "run_after" or "wall clock"

    def describe(self) -> str:
        return f"{self.at.isoformat()} ({self.source})"


def _utc_seconds(t: dt.datetime) -> dt.datetime:
    t = t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)
    return t.astimezone(dt.timezone.utc).replace(microsecond=0)


def anchor(
    run_type: str | None, data_interval_end: dt.datetime | None, run_after: dt.datetime | None, wall: dt.datetime
) -> Anchor:
    """The run's anchor from its type and times (the wall clock when it has none, or when they lie ahead)."""
    wall = _utc_seconds(wall)
    kind = str(getattr(run_type, "value", run_type) or "").lower()
    if kind in INTERVAL_RUN_TYPES and data_interval_end is not None:
        at, source = data_interval_end, "data_interval_end"
    elif run_after is not None:
        at, source = run_after, "run_after"
    else:
        return Anchor(wall, "wall clock")
    at = _utc_seconds(at)
    if at > wall:
        return Anchor(wall, f"wall clock: the run's {source} {at.isoformat()} is later")
    return Anchor(at, source)


def from_context(context: Any, wall: dt.datetime) -> Anchor:
    """The anchor of the run an Airflow task context belongs to."""
    dag_run = context.get("dag_run")
    return anchor(
        getattr(dag_run, "run_type", None),
        getattr(dag_run, "data_interval_end", None) or context.get("data_interval_end"),
        getattr(dag_run, "run_after", None),
        wall,
    )
