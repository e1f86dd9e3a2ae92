"""Where the check operators get their I/O: Airflow hooks, Variables and the clock, behind one small factory.

A check's `run(services, ctx)` sees only this interface (checks/contract.py `Services`), so
unit tests hand it stand-ins and the operator logic is tested without servers.
"""
from __future__ import annotations

import time
from typing import Any

from billing_readiness import VARIABLE_KEY
from billing_readiness.errors import CheckError


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
            from billing_readiness.hooks.clickhouse import ClickHouseHook
            from billing_readiness.sql import memory_settings

            self._clickhouse = ClickHouseHook(cfg["connections"]["clickhouse"], cfg["clickhouse"]["query_timeout_seconds"],
                                              settings=memory_settings(cfg),
                                              budget_seconds=cfg["clickhouse"]["check_budget_seconds"])
        return self._clickhouse

    def http(self, conn_id: str, timeout_seconds: float, purpose: str):
        from billing_readiness.hooks.http_api import HttpApiHook

        return HttpApiHook(conn_id, timeout_seconds=timeout_seconds, purpose=purpose)

    def quota_control(self, cfg: dict, api, probe: str):
        from billing_readiness.hooks.quota_control import HttpAdminQuotaControl, RedisQuotaControl

        q = cfg["quota"]
        if q["admin_path"]:
            return HttpAdminQuotaControl(api, q, probe)
        from airflow.providers.redis.hooks.redis import RedisHook

        from billing_readiness.hooks.connections import get_connection

        conn_id = cfg["connections"]["redis"]
        get_connection(conn_id, "redis", "the quota probe's Redis keys")
        return RedisQuotaControl(RedisHook(redis_conn_id=conn_id).get_conn(), q, probe, conn_id)

    def baseline(self, key: str) -> dict | None:
        from airflow.sdk import Variable

        return Variable.get(key, default=None, deserialize_json=True)

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
