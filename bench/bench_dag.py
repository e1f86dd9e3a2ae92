"""Benchmark parts above ClickHouse: the quota probe against plain HTTP, DAG parse time, and the whole DAG
(`airflow dags test`) against a no-op DAG of the same shape plus the raw SQL. Called by bench_scale.py."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import bench_parse
import minimal_sql
from bench_scale import PARAMS, ROOT, BenchServices, concurrent_loads, readonly

from billing_readiness.checks import quota_enforcement
from billing_readiness.checks.contract import RunContext
from billing_readiness.core.timewindow import Window, last_closed_month

DAG_SCALE = "t100_e1m"  # the database the whole-DAG comparison runs on
PLAIN_TENANT = "bench-plain-requests"

NOOP_DAG = """
import pendulum
from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG

def nothing():
    return None

with DAG(dag_id="noop_same_shape", schedule=None, start_date=pendulum.datetime(2025, 1, 1), catchup=False):
    checks = [PythonOperator(task_id=f"check_{i}", python_callable=nothing) for i in range(4)]
    checks[:3] >> checks[3]  # check 3 after the others, as in billing_readiness
    checks >> PythonOperator(task_id="gate", python_callable=nothing, trigger_rule="all_done")
    checks >> PythonOperator(task_id="report", python_callable=nothing, trigger_rule="all_done")
"""


def _env(args) -> dict:
    api = int(os.environ.get("SANDBOX_API_PORT", 18700))
    redis = int(os.environ.get("SANDBOX_REDIS_PORT", 16379))
    return {
        "AIRFLOW_CONN_QUOTA_API_DEFAULT": json.dumps(
            {"conn_type": "http", "host": "127.0.0.1", "port": api, "schema": "http"}
        ),
        "AIRFLOW_CONN_REDIS_DEFAULT": json.dumps(
            {"conn_type": "redis", "host": "127.0.0.1", "port": redis, "extra": {"db": 0}}
        ),
        "AIRFLOW_CONN_CLICKHOUSE_NATIVE_DEFAULT": json.dumps(
            {
                "conn_type": "clickhouse_native",
                "host": "127.0.0.1",
                "port": args.port,
                "login": "readiness",
                "password": args.password,
                "schema": f"bench_{DAG_SCALE}",
            }
        ),
    }


def plain_requests(sequential: int, concurrent: int) -> None:
    """The probe's HTTP requests, by hand: as many, sequential ones in a row, the burst at once."""
    import requests

    url = f"http://127.0.0.1:{int(os.environ.get('SANDBOX_API_PORT', 18700))}/query"
    body, headers = {"query": "SELECT 1"}, {"X-Tenant-ID": PLAIN_TENANT}
    with requests.Session() as s:
        for _ in range(sequential):
            s.post(url, json=body, headers=headers, timeout=5)
    if concurrent:
        with ThreadPoolExecutor(concurrent) as pool:
            list(pool.map(lambda _: requests.post(url, json=body, headers=headers, timeout=5), range(concurrent)))


def measure_probe(args, cfg, now) -> dict:
    from billing_readiness.shell.operators.services import AirflowServices

    os.environ.update(_env(args))

    class ProbeServices(AirflowServices):
        def __init__(self):
            super().__init__()
            self._bench = BenchServices(args, f"bench_{DAG_SCALE}", cfg)

        def clickhouse(self, cfg):
            return self._bench.hook

    check, ctx = quota_enforcement.CHECK, RunContext(cfg, dict(PARAMS), now)
    shape = {}

    def probe():
        result = check.run(ProbeServices(), ctx)
        d = result.details
        shape.update(
            sequential=len(d.sequential) + len(d.second), total=result.metrics["requests_sent"], passed=result.passed
        )

    probe()
    plain = lambda: plain_requests(shape["sequential"], shape["total"] - shape["sequential"])
    times = {"probe": [], "plain": []}
    for _ in range(args.repeat):
        for key, fn in (("probe", probe), ("plain", plain)):
            started = time.perf_counter()
            fn()
            times[key].append(time.perf_counter() - started)
    import redis

    r = redis.Redis(port=int(os.environ.get("SANDBOX_REDIS_PORT", 16379)))
    for key in r.scan_iter(match=f"*{PLAIN_TENANT}*"):
        r.delete(key)
    probe_s, plain_s = statistics.median(times["probe"]), statistics.median(times["plain"])
    print(f"  quota probe: {probe_s:.3f}s vs {shape['total']} plain requests {plain_s:.3f}s = {probe_s / plain_s:.2f}x")
    return {
        "probe_s": probe_s,
        "plain_s": plain_s,
        "ratio": probe_s / plain_s,
        "requests": shape["total"],
        "sequential": shape["sequential"],
        "passed": shape["passed"],
    }


def _airflow(home: Path, dags: Path, env: dict, *cmd: str) -> float:
    full = {
        **os.environ,
        **env,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "plugins")]),
    }
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "airflow", *cmd], env=full, check=False, capture_output=True, text=True)
    return time.perf_counter() - started


def measure_dag(args, cfg, now, probe: dict) -> dict:
    home = ROOT / ".local" / "bench-airflow"
    reports = Path(tempfile.mkdtemp(prefix="bench-reports-"))
    noop_dir = Path(tempfile.mkdtemp(prefix="bench-noop-"))
    (noop_dir / "noop_same_shape.py").write_text(NOOP_DAG)
    env = {
        **_env(args),
        "AIRFLOW_VAR_BILLING_READINESS_CONFIG": json.dumps(
            {"report": {"dir": str(reports)}, "clickhouse": {"max_memory_bytes": args.memory_limit}}
        ),
    }
    if not (home / "airflow.db").exists():
        home.mkdir(parents=True, exist_ok=True)
        _airflow(home, noop_dir, env, "db", "migrate")
    # the raw work of one run: checks 1 and 2's minimal SQL, check 3's loads, the probe's requests
    window, month = Window(now, 30), last_closed_month(now)
    plain = readonly(args, f"bench_{DAG_SCALE}", cfg)

    def raw():
        for sql, params in {**minimal_sql.check_1(window), **minimal_sql.check_2(month)}.values():
            plain.execute(sql, params or None)
        concurrent_loads(args, f"bench_{DAG_SCALE}", cfg, window, now, PARAMS["repetitions"] + 1)
        plain_requests(probe["sequential"], probe["requests"] - probe["sequential"])

    times = {"dag": [], "noop": [], "raw": []}
    for _ in range(max(2, args.repeat - 1)):
        times["dag"].append(_airflow(home, ROOT / "dags", env, "dags", "test", "billing_readiness"))
        times["noop"].append(_airflow(home, noop_dir, env, "dags", "test", "noop_same_shape"))
        started = time.perf_counter()
        raw()
        times["raw"].append(time.perf_counter() - started)
    dag_s, noop_s, raw_s = (statistics.median(times[k]) for k in ("dag", "noop", "raw"))
    print(
        f"  airflow dags test: {dag_s:.1f}s vs no-op {noop_s:.1f}s + raw {raw_s:.1f}s = {dag_s / (noop_s + raw_s):.2f}x"
    )
    return {
        "dag_s": dag_s,
        "noop_s": noop_s,
        "raw_s": raw_s,
        "ratio": dag_s / (noop_s + raw_s),
        "scale": DAG_SCALE,
        "reports": str(reports),
    }


def measure(args, cfg, now) -> dict:
    probe = measure_probe(args, cfg, now)
    return {"probe": probe, "parse": bench_parse.measure(5), "dag": measure_dag(args, cfg, now, probe)}
