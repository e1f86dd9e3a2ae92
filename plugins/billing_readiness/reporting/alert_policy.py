"""When an alert is worth a person's attention (plain Python, no I/O): decided from this run's outcome and the
records of the runs before it (history.py), under config `alerts`.

- failure: the first run a check fails; while it keeps failing, a reminder only when the failure has lasted
  another `remind_every_hours` ("still failing since <run>, N runs"), never the same alert every night;
- recovery: a check that failed in the previous run passes again;
- promotion: with "promotion" in notify_on every promotion, otherwise only the first promotion, or the first
  after a run that did not promote (a failure, a burn-in);
- warnings: the warning codes a check shows that it did not show in the previous run, summarized.

No history (the first run, or a store that cannot be read) is no reason to keep quiet: everything is news.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

WARNINGS_NAMED = 3  # warnings quoted in an alert; the rest are counted by code


@dataclass(frozen=True)
class Decision:
    send: bool
    why: str  # for the log, and the alert's own words ("first failure", "reminder", ...)
    since: dict | None = None  # the oldest run of the failing spell
    runs: int = 1  # runs in the spell, this one included


def _check(record: dict | None, check_id: str) -> dict | None:
    return (record or {}).get("checks", {}).get(check_id)


def failing_spell(previous: list[dict], check_id: str) -> tuple[dict | None, int]:
    """(the oldest run of the unbroken spell in which the check failed just before this run, its length)."""
    since, n = None, 0
    for r in previous:
        c = _check(r, check_id)
        if c is None or c["passed"]:
            break
        since, n = r, n + 1
    return since, n


def failure(check_id: str, previous: list[dict], as_of: str, alerts_cfg: dict) -> Decision:
    """Alert for a failed check: the first failure, then one reminder per `remind_every_hours` of the spell."""
    if "failure" not in alerts_cfg["notify_on"]:
        return Decision(False, "config alerts.notify_on has no 'failure'")
    since, before = failing_spell(previous, check_id)
    if since is None:
        return Decision(True, "first failure")
    interval = dt.timedelta(hours=alerts_cfg["remind_every_hours"])
    start, last = _at(since["as_of"]), _at(previous[0]["as_of"])
    if (_at(as_of) - start) // interval > (last - start) // interval:
        return Decision(True, "reminder", since, before + 1)
    return Decision(
        False,
        f"still failing since {since['run_id']}; next reminder after "
        f"{(start + ((last - start) // interval + 1) * interval).isoformat()}",
        since,
        before + 1,
    )


def recovery(check_id: str, previous: list[dict], alerts_cfg: dict) -> Decision:
    """Alert when a check that failed in the previous run passes again."""
    since, n = failing_spell(previous, check_id)
    if since is None:
        return Decision(False, "it did not fail in the previous run")
    if "recovery" not in alerts_cfg["notify_on"]:
        return Decision(False, "config alerts.notify_on has no 'recovery'", since, n)
    return Decision(True, "recovered", since, n)


def promotion(previous: list[dict], alerts_cfg: dict) -> Decision:
    """Alert for a promotion: every one where configured, else the first, or the first after a run that did not."""
    if "promotion" in alerts_cfg["notify_on"]:
        return Decision(True, "every promotion (config alerts.notify_on)")
    if not previous:
        return Decision(True, "first promotion")
    if not previous[0].get("promoted"):
        return Decision(True, f"first promotion after run {previous[0]['run_id']}, which did not promote")
    return Decision(False, "the previous run promoted too (add 'promotion' to config alerts.notify_on for every one)")


def new_warnings(check_id: str, findings: list[dict], previous: list[dict], alerts_cfg: dict) -> dict:
    """The warnings of this run's check whose code the previous run's did not show:
    {"counts": {code: n}, "named": [first messages]} (empty when none, or when not configured)."""
    if "warnings" not in alerts_cfg["notify_on"]:
        return {}
    before = (_check(previous[0], check_id) or {}).get("findings", {}) if previous else {}
    fresh = [f for f in findings if f["severity"] == "warn" and f["code"] not in before]
    if not fresh:
        return {}
    counts: dict[str, int] = {}
    for f in fresh:
        counts[f["code"]] = counts.get(f["code"], 0) + 1
    return {"counts": counts, "named": [f["message"] for f in fresh[:WARNINGS_NAMED]]}


def _at(iso: str) -> dt.datetime:
    return dt.datetime.fromisoformat(iso)
