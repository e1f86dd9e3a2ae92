"""Stand-ins for the services a check's run() uses (checks/contract.py Services), for the pure tests.

They replace I/O only: a ClickHouse that answers named queries with given rows, an HTTP API that
answers with a scripted sequence of statuses, a quota control that records what was done to it.
The real hooks are tested against real servers in the integration tests.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from billing_readiness.checks.contract import RunContext
from billing_readiness.config import load_config

UTC = dt.timezone.utc
NOW = dt.datetime(2025, 3, 10, 12, 0, tzinfo=UTC)


class RowsClickHouse:
    """Answers each query by its name with rows (dicts), read through the query's column check. A query it
    has no rows for is an error, not an empty answer: a renamed query must fail its test, not starve it."""

    ZONE = "the server's time zone and the events' timestamp type (system.columns)"

    def __init__(self, rows_by_name: dict[str, list[dict]], server_timezone: str = "UTC"):
        # a server answers its time zone whatever the test is about (the zone query of checks 1 and 2)
        zone = [{"server_timezone": server_timezone, "timestamp_type": "DateTime"}]
        self.rows_by_name, self.sent = {self.ZONE: zone, **rows_by_name}, []
        self.queries_sent = 0

    def run(self, query):
        self.queries_sent += 1
        self.sent.append(query)
        if query.name not in self.rows_by_name:
            raise KeyError(
                f"stand-in ClickHouse has no rows for the query {query.name!r} (it knows {sorted(self.rows_by_name)})"
            )
        rows = self.rows_by_name[query.name]
        names = list(rows[0]) if rows else list(query.columns)
        return query.named_rows(names, [tuple(r[n] for n in names) for r in rows])

    def run_all(self, queries):
        return {key: self.run(q) for key, q in queries.items()}

    def time_loads(self, queries, repetitions, warmups=1):
        return [
            {
                "load_s": 0.1,
                "panels": [
                    {
                        "title": q.name,
                        "elapsed_s": 0.1,
                        "rows_read": 1,
                        "bytes_read": 8,
                        "result_rows": 1,
                        "error": None,
                    }
                    for q in queries
                ],
            }
            for _ in range(repetitions)
        ]

    def source_id(self):
        return "clickhouse_native_default/db"

    def describe(self):
        return "ch:9000/db"


class ScriptedApi:
    """An HTTP API whose responses follow `status_for(n)` (n = 1, 2, ... per request)."""

    base_url = "http://api"

    def __init__(self, status_for: Callable[[int], int | None], body: Any = None):
        self.status_for, self.body, self.calls = status_for, body, []

    def request(self, method, path, **kwargs):
        self.calls.append((method, path, kwargs))
        status = self.status_for(len(self.calls))
        if status is None:
            return {
                "status": None,
                "error": "ConnectionError: refused",
                "headers": {},
                "body": None,
                "elapsed_s": 0.0,
                "unreachable": True,
            }
        headers = (
            {"Retry-After": "1", "X-RateLimit-Limit": "10", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1"}
            if status == 429
            else {}
        )
        body = self.body if self.body is not None else ({"error": "quota_exceeded"} if status == 429 else {})
        return {"status": status, "headers": headers, "body": body, "error": None, "elapsed_s": 0.001}

    def concurrently(self, count, method, path, **kwargs):
        return [self.request(method, path, **kwargs) for _ in range(count)]

    def separate_clients(self, count):
        return [self] * count  # one scripted API: what it answers does not depend on the client


class KeyStoreControl:
    """A quota control over an in-memory key set (the probe's I/O only; what to delete is the check's call)."""

    def __init__(self, keys: dict[str, str] | None = None, cfg=None, probe="readiness-probe"):
        from billing_readiness.config import load_config

        self.keys, self.q, self.probe = dict(keys or {}), (cfg or load_config())["quota"], probe
        self.actions, self.locks = [], {}
        self.api_writes: dict[str, str] = {}  # keys the API writes for the probe tenant on each setup

    def describe(self):
        return "stand-in key store"

    def setup(self, limit):
        self.actions.append(("setup", limit))
        for template, value in self.q["setup_keys"].items():
            self.keys[template.format(tenant_id=self.probe)] = str(value).format(limit=limit)
        self.keys.update(self.api_writes)

    def delete(self, keys):
        self.actions.append(("delete", tuple(keys)))
        for k in keys:
            self.keys.pop(k)
        return len(keys)

    def release(self):
        return 0

    def leftovers(self):
        return sorted(k for k in self.keys if f":{self.probe}:" in k or k.endswith(f":{self.probe}"))

    probe_keys = leftovers

    def left_after(self, present, deleted):
        return self.leftovers()  # the store as it is: a test that adds keys during a cleanup sees them

    def counters(self):
        """What the API counted, with TTLs: `counter_ttls` when a test sets it, else one hourly counter that
        expires within its window."""
        script = getattr(self, "counter_script", None)  # one reading per call, when a test scripts them
        if script:
            return script.pop(0)
        return getattr(self, "counter_ttls", None) or {f"quota:{self.probe}:queries_hourly": 3000}

    def store_identity(self):
        return "stand-in"

    def lost(self, identity):
        """What a test makes the store lose (`losses`: a list of reasons, one taken per call, None = nothing)."""
        losses = getattr(self, "losses", None)
        return losses.pop(0) if losses else None

    def claim(self, key, owner, ttl):
        current = self.locks.setdefault(key, owner)
        return None if current == owner else current

    def take_over(self, key, old, new, ttl):
        if self.locks.get(key) != old:
            return False
        self.locks[key] = new
        return True

    def unlock(self, key, owner):
        if self.locks.get(key) == owner:
            del self.locks[key]


class StandInServices:
    def __init__(
        self,
        clickhouse=None,
        http: dict | None = None,
        control=None,
        baselines: dict | None = None,
        clock: float = 1_000_000.0,
    ):
        self._clickhouse, self._http, self.control = clickhouse, http or {}, control or KeyStoreControl()
        self.baselines, self.clock, self.slept = baselines or {}, clock, []

    def clickhouse(self, cfg):
        return self._clickhouse

    def http(self, conn_id, timeout_seconds, purpose):
        return self._http[conn_id]

    def quota_control(self, cfg, api, probe):
        self.control.q, self.control.probe = cfg["quota"], probe
        return self.control

    def baseline(self, key):
        return self.baselines.get(key)

    def last_promotion(self, dag_id="billing_readiness"):
        return getattr(self, "promotion", None)

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.clock += seconds

    def time(self):
        return self.clock

    def process(self):
        return "stand-in-host", 4242

    task_states: dict = {}  # (dag_id, run_id, task_id) -> state; absent ones are "running"
    alive: dict = {}  # pid -> alive on this host

    def task_state(self, dag_id, run_id, task_id):
        return self.task_states.get((dag_id, run_id, task_id), "running")

    def process_alive(self, host, pid):
        return self.alive.get(pid) if host == "stand-in-host" else None


def context(params: dict | None = None, now: dt.datetime = NOW, **config) -> RunContext:
    """A run's context with the checks' own strict params (params.py), `params` over them."""
    from billing_readiness.checks import dashboard_latency, invoice_immutability, quota_enforcement, usage_coverage
    from billing_readiness.core.params import strict_params

    checks = [usage_coverage.CHECK, invoice_immutability.CHECK, dashboard_latency.CHECK, quota_enforcement.CHECK]
    return RunContext(
        load_config(config), {**strict_params(checks), **(params or {})}, now, "run-1", "billing_readiness"
    )
