"""One end-to-end run under a real scheduler (`airflow standalone`: scheduler, DAG processor, API server,
triggerer), triggered over the REST API as the UI does: the form refuses a bad param, an all-pass run
sends the promotion notice and triggers the M12.2 DAG through the Asset, a failed run alerts and
triggers nothing."""
import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
import requests

from conftest import ROOT, _free_port
from m12_1_sandbox import faults

TERMINAL = {"success", "failed"}


class Airflow:
    def __init__(self, home: Path, port: int, env: dict):
        self.home, self.base = home, f"http://127.0.0.1:{port}"
        self.log = (home / "standalone.log").open("w")
        self.proc = subprocess.Popen([str(Path(sys.executable).parent / "airflow"), "standalone"], env=env,
                                     stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        self.session = requests.Session()

    def wait_healthy(self, timeout=180):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, (self.home / "standalone.log").read_text()[-3000:]
            try:
                health = requests.get(f"{self.base}/api/v2/monitor/health", timeout=2).json()
                if all(health.get(k, {}).get("status") == "healthy" for k in ("scheduler", "dag_processor")):
                    break
            except (requests.RequestException, ValueError):
                pass
            time.sleep(1)
        else:
            pytest.fail("airflow standalone did not become healthy: " + (self.home / "standalone.log").read_text()[-3000:])
        password = json.loads((self.home / "simple_auth_manager_passwords.json.generated").read_text())["admin"]
        token = requests.post(f"{self.base}/auth/token", json={"username": "admin", "password": password},
                              timeout=10).json()["access_token"]
        self.session.headers["Authorization"] = f"Bearer {token}"

    def api(self, method, path, **kwargs):
        return self.session.request(method, f"{self.base}/api/v2{path}", timeout=30, **kwargs)

    def wait_for_dag(self, dag_id, timeout=120):
        deadline = time.monotonic() + timeout
        while self.api("GET", f"/dags/{dag_id}").status_code != 200:
            assert time.monotonic() < deadline, f"{dag_id} was never parsed"
            time.sleep(1)

    def runs(self, dag_id):
        return self.api("GET", f"/dags/{dag_id}/dagRuns").json()["dag_runs"]

    def trigger(self, dag_id, conf=None):
        return self.api("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf or {}})

    def wait_run(self, dag_id, run_id, timeout=240):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}").json()["state"]
            if state in TERMINAL:
                return state
            time.sleep(2)
        pytest.fail(f"{dag_id} {run_id} did not finish in {timeout}s")

    def task_instances(self, dag_id, run_id):
        return self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances").json()["task_instances"]

    def task_states(self, dag_id, run_id):
        return {ti["task_id"]: ti["state"] for ti in self.task_instances(dag_id, run_id)}

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.log.close()


@pytest.fixture
def standalone(make_sandbox, receiver, tmp_path, monkeypatch):
    sb = make_sandbox("sched", large_events=20_000, medium_tenants=2, small_tenants=3)
    sb.configure(connections={"alerts": "alerts_webhook"})
    port = _free_port()
    home = tmp_path / "airflow-home"
    home.mkdir()
    env = dict(os.environ)
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__API__PORT=str(port),
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{port}/execution/",
        AIRFLOW__CORE__PARALLELISM="4",
        AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="False",
        AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="5",
        AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC="2",
        BILLING_READINESS_SCHEDULE="none",  # manual runs only: no cron tick run on unpause
        AIRFLOW_CONN_ALERTS_WEBHOOK=json.dumps({"conn_type": "http", "host": "127.0.0.1", "port": receiver.port}),
        PATH=f"{Path(sys.executable).parent}:{env.get('PATH', '')}",
        PYTHONPATH=f"{ROOT}:{ROOT / 'plugins'}",
    )
    airflow = Airflow(home, port, env)
    try:
        airflow.wait_healthy()
        airflow.wait_for_dag("billing_readiness")
        airflow.wait_for_dag("m12_2_billing_integration")
        yield airflow, sb, receiver
    finally:
        airflow.stop()


def assert_check_3_timed_alone(task_instances):
    """Check 3 starts only after every other check ended: its timings never include the gate's own load.
    Checks 1, 2 and 4 do run in parallel (parallelism 4), so this is not the one-at-a-time of dag.test()."""
    span = {ti["task_id"]: (datetime.fromisoformat(ti["start_date"]), datetime.fromisoformat(ti["end_date"]))
            for ti in task_instances if ti["task_id"].startswith("check_")}
    others = [span[t] for t in ("check_usage_coverage", "check_invoice_immutability", "check_quota_enforcement")]
    assert span["check_dashboard_latency"][0] >= max(end for _, end in others), span
    assert max(start for start, _ in others) < min(end for _, end in others), span  # the three overlapped


def test_runs_under_the_scheduler_alert_and_promote(standalone):
    airflow, sb, receiver = standalone

    refused = airflow.trigger("billing_readiness", {"lookback_days": 0})
    assert refused.status_code == 400 and "lookback_days" in refused.text
    assert airflow.runs("billing_readiness") == []

    ok = airflow.trigger("billing_readiness").json()["dag_run_id"]
    assert airflow.wait_run("billing_readiness", ok) == "success"
    assert set(airflow.task_states("billing_readiness", ok).values()) == {"success"}
    assert_check_3_timed_alone(airflow.task_instances("billing_readiness", ok))
    assert [e["run_id"] for e in receiver.events("promoted")] == [ok]
    assert receiver.events("check_failed") == []
    deadline = time.monotonic() + 120
    while not airflow.runs("m12_2_billing_integration"):
        assert time.monotonic() < deadline, "M12.2 was not triggered by the promotion Asset event"
        time.sleep(2)
    [m12_2] = airflow.runs("m12_2_billing_integration")
    assert airflow.wait_run("m12_2_billing_integration", m12_2["dag_run_id"]) == "success"

    faults.add_active_tenant_without_usage(sb.execute, sb.database, "tenant-ghost")
    bad = airflow.trigger("billing_readiness").json()["dag_run_id"]
    assert airflow.wait_run("billing_readiness", bad) == "failed"
    states = airflow.task_states("billing_readiness", bad)
    assert states["check_usage_coverage"] == "failed" and states["promote_to_m12_2"] == "failed"
    [alert] = receiver.events("check_failed")
    assert alert["check"] == "usage_coverage" and alert["run_id"] == bad and "tenant-ghost" in alert["reasons"][0]
    assert alert["log_url"].startswith("http")
    time.sleep(15)  # give the scheduler time to (wrongly) schedule M12.2
    assert len(airflow.runs("m12_2_billing_integration")) == 1
    assert len(receiver.events("promoted")) == 1
