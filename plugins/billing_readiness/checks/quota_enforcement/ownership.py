"""Who holds the probe tenant: the marker the probe writes before it creates anything, and when a holder is gone.

The marker key has no ':' segment, so it is never a tenant's key. It holds its owner (dag, run, task, try,
host, pid) and is removed only when nothing of the probe is left. So every key with the probe id beside a
marker is the probe's own, and a key with the probe id but no marker is somebody else's: a tenant known
only to Redis, which the probe must not touch. A marker whose owner is no longer running (its task
instance ended, or a later try of it runs, or its process on this host is gone) belongs to a crashed
probe: the next run takes it over and cleans what that probe left, and says so.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from billing_readiness.core.units import DAY

MARKER_KEY = "billing_readiness_probe.{probe}"
# Outlives any counter the API may keep for the probe (quota.window_seconds is at most 31 days), so keys
# a crashed probe left are still known to be the probe's when the next run comes.
MARKER_TTL_SECONDS = 40 * DAY
# Task instance states in which the owner may still be probing.
LIVE_STATES = frozenset(
    {"running", "queued", "scheduled", "up_for_retry", "up_for_reschedule", "deferred", "restarting", "none", None}
)


@dataclass(frozen=True)
class Owner:
    dag_id: str
    run_id: str
    task_id: str
    try_number: int
    host: str
    pid: int

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Owner | None:
        """The owner a marker names; None when it is not one of ours (an unreadable value)."""
        try:
            data = json.loads(text)
            return cls(
                str(data["dag_id"]),
                str(data["run_id"]),
                str(data["task_id"]),
                int(data["try_number"]),
                str(data["host"]),
                int(data["pid"]),
            )
        except (ValueError, TypeError, KeyError):
            return None

    def describe(self) -> str:
        return f"run {self.run_id}, task {self.task_id} try {self.try_number} (pid {self.pid} on {self.host})"


def holder_gone(owner: Owner, me: Owner, task_state: str | None, process_alive: bool | None) -> str | None:
    """Why `owner` can no longer be probing, or None when it may be. `task_state` is its task instance's
    state ("absent": no such task instance; None: unknown), `process_alive` whether its pid lives on this
    host (None: another host, or unknown)."""
    same_task = (owner.dag_id, owner.run_id, owner.task_id) == (me.dag_id, me.run_id, me.task_id)
    if same_task and owner.try_number < me.try_number:
        return f"its try {owner.try_number} ended: this is try {me.try_number} of the same task"
    if same_task and owner.try_number == me.try_number and owner.pid != me.pid and process_alive is False:
        return f"its process {owner.pid} on {owner.host} is gone"
    if task_state == "absent":
        return "its task instance no longer exists in Airflow"
    if task_state not in LIVE_STATES:
        return f"its task instance is {task_state}"
    if process_alive is False:
        return f"its process {owner.pid} on {owner.host} is gone"
    return None
