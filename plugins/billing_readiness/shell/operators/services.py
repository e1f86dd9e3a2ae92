"""Where the check operators get their I/O: Airflow hooks, Variables and the clock, behind one small factory.

A check's `run(services, ctx)` sees only this interface (checks/contract.py `Services`), so
unit tests hand it stand-ins and the operator logic is tested without servers.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from billing_readiness import VARIABLE_KEY
from billing_readiness.core.errors import CheckError


class AirflowServices:
    def __init__(self):
        self._clickhouse = None

    def config(self, variable_key: str = VARIABLE_KEY) -> dict:
        from airflow.sdk import Variable

        from billing_readiness.config import ConfigError, load_config

        try:
            return load_config(Variable.get(variable_key, default=None))
        except ConfigError as exc:
            raise CheckError(f"{exc} (Airflow Variable '{variable_key}')") from None

    def clickhouse(self, cfg: dict):
        """One hook per run, so its query count covers every query the check sent."""
        if self._clickhouse is None:
            from billing_readiness.core.sql import memory_settings
            from billing_readiness.shell.hooks.clickhouse import ClickHouseHook

            self._clickhouse = ClickHouseHook(
                cfg["connections"]["clickhouse"],
                cfg["clickhouse"]["query_timeout_seconds"],
                settings=memory_settings(cfg),
                budget_seconds=cfg["clickhouse"]["check_budget_seconds"],
                liveness_seconds=cfg["clickhouse"]["liveness_timeout_seconds"],
            )
        return self._clickhouse

    def clickhouse_guards(self) -> list[str]:
        """The server-side guards the ClickHouse connection asked for and did not get (none if unused)."""
        return self._clickhouse.unapplied_guards() if self._clickhouse is not None else []

    def http(self, conn_id: str, timeout_seconds: float, purpose: str):
        from billing_readiness.shell.hooks.http_api import HttpApiHook

        return HttpApiHook(conn_id, timeout_seconds=timeout_seconds, purpose=purpose)

    def quota_control(self, cfg: dict, api, probe: str):
        from billing_readiness.shell.hooks.quota_control import (
            HttpAdminQuotaControl,
            RedisQuotaControl,
        )

        q = cfg["quota"]
        if q["admin_path"]:
            return HttpAdminQuotaControl(api, q, probe)
        from airflow.providers.redis.hooks.redis import RedisHook

        from billing_readiness.shell.hooks.connections import get_connection

        conn_id = cfg["connections"]["redis"]
        get_connection(conn_id, "redis", "the quota probe's Redis keys")
        return RedisQuotaControl(RedisHook(redis_conn_id=conn_id).get_conn(), q, probe, conn_id)

    def baseline(self, key: str) -> Any:
        """The baseline Variable's JSON value; None when there is no such Variable. One that exists and cannot
        be read (Airflow answers "not found" for a value it cannot decrypt) or parsed is an error naming it."""
        import json

        from airflow.sdk import Variable

        raw = Variable.get(key, default=None)
        if raw is None:
            if key in list(Variable.keys(prefix=key)):
                raise CheckError(
                    f"the baseline Variable '{key}' exists but Airflow cannot read its value (encrypted with "
                    "another Fernet key? [core] fernet_key must be the same in every Airflow component and kept "
                    "across restarts): restore the key, or the Variable from a backup. Re-recording it would "
                    "silently reset what the month is held to."
                )
            return None
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise CheckError(
                f"the baseline Variable '{key}' is not JSON ({exc}): restore it from a backup, or "
                "delete it to record a new baseline on purpose"
            ) from None

    def last_promotion(self, dag_id: str = "billing_readiness") -> dict | None:
        """The extra of the latest event of the Asset this DAG's gate updates (what the last promotion held), or
        None. Read as `inlet_events` reads it, without making the check a consumer of the Asset."""
        from airflow.sdk.execution_time.context import InletEventsAccessor

        from billing_readiness.shell.assets import promotion_asset

        asset = promotion_asset(dag_id)

        try:
            events = list(InletEventsAccessor(asset_name=asset.name, asset_uri=asset.uri).ascending(False).limit(1))
        except Exception as exc:  # noqa: BLE001 - an Airflow that cannot answer: say so, decide nothing on it
            logging.getLogger(__name__).warning(
                "Could not read the last promotion's Asset event (%s): a deleted baseline would go "
                "unnoticed in this run",
                exc,
            )
            return None
        return dict(events[0].extra or {}) if events else None

    def record(self, key: str, value: dict[str, Any], description: str) -> None:
        from airflow.sdk import Variable

        Variable.set(key, value, description=description, serialize_json=True)

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def time(self) -> float:
        return time.time()

    def process(self) -> tuple[str, int]:
        import os
        import socket

        return socket.gethostname(), os.getpid()

    def task_state(self, dag_id: str, run_id: str, task_id: str) -> str | None:
        """The task instance's state from the Airflow API server ("absent" when it has none); None when
        the question cannot be asked here (no supervisor, or the API refused)."""
        try:
            from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

            states = RuntimeTaskInstance.get_task_states(dag_id=dag_id, task_ids=[task_id], run_ids=[run_id])
        except Exception:  # noqa: BLE001 - an unknown state keeps the marker's owner alive: the safe side
            return None
        state = (states or {}).get(run_id, {}).get(task_id, "absent")
        return "none" if state is None else str(getattr(state, "value", state))

    def process_alive(self, host: str, pid: int) -> bool | None:
        import os
        import socket

        if host != socket.gethostname():
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
