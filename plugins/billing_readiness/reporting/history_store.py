"""Where the run history lives: one small JSON file per run in report.dir/<dag_id>/_history/ (object stores
cannot append, and many workers may write: a file per run needs no lock). Never ClickHouse (the checks only
read it) and never XCom. Records older than config history.retention_days are pruned when a run writes its own.

Reading a year of nightly runs is one listing and one read per record (bench/history_read.py measures it).
"""

from __future__ import annotations

import datetime as dt
import json

from billing_readiness.reporting import artifacts
from billing_readiness.reporting.history import anchored_at, record_name

FOLDER = "_history"


def location(cfg: dict, dag_id: str):
    """The DAG's history folder: a Path, or an ObjectStoragePath for a URL."""
    return artifacts.run_location(cfg, dag_id, FOLDER)


def write(cfg: dict, dag_id: str, record: dict) -> str:
    """Write the run's record (a re-run of the same run replaces it); its location as text."""
    name = record_name(record["as_of"], record["run_id"])
    artifacts.write(cfg, dag_id, FOLDER, {name: json.dumps(record, separators=(",", ":"), default=str)})
    return f"{location(cfg, dag_id)}/{name}"


def _names(folder) -> list[str]:
    try:
        return sorted((p.name for p in folder.iterdir() if p.name.endswith(".json")), reverse=True)
    except FileNotFoundError:
        return []


def load(cfg: dict, dag_id: str, *, before: str | None = None, limit: int | None = None) -> list[dict]:
    """The records, newest first: those anchored before `before` (an ISO instant) when given, at most `limit`.
    A record that cannot be parsed is skipped (a half-written file of a crashed writer); the store's own
    errors propagate, for the caller to decide (the gate fails closed, alerts go out)."""
    folder = location(cfg, dag_id)
    cut = dt.datetime.fromisoformat(before) if before else None
    out: list[dict] = []
    for name in _names(folder):
        at = anchored_at(name)
        if at is None or (cut is not None and at >= cut):
            continue
        try:
            out.append(json.loads((folder / name).read_text()))
        except (ValueError, FileNotFoundError):
            continue
        if limit is not None and len(out) >= limit:
            break
    return out


def prune(cfg: dict, dag_id: str, now: dt.datetime) -> int:
    """Delete the records anchored more than history.retention_days before `now`; how many."""
    folder = location(cfg, dag_id)
    oldest = now - dt.timedelta(days=cfg["history"]["retention_days"])
    gone = 0
    for name in _names(folder):
        at = anchored_at(name)
        if at is not None and at < oldest:
            (folder / name).unlink(missing_ok=True)
            gone += 1
    return gone
