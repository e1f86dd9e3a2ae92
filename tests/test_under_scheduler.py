"""One end-to-end run under a real scheduler (`airflow standalone`: scheduler, DAG processor, API server,
triggerer), triggered over the REST API as the UI does: the form refuses a bad param, an all-pass run
sends the promotion notice and triggers the M12.2 DAG through the Asset, a failed run alerts and
triggers nothing. Each check task's verdict reaches a StatsD listener on loopback (Airflow's own metrics,
with tags) and an OpenLineage file transport (data-quality assertions on the tables read)."""

import json
import os
import socket
import threading
import time

import pytest
from conftest import ROOT, assert_check_3_timed_alone

from m12_1_sandbox import faults
from m12_1_sandbox.airflow_stack import AirflowStack, free_port, stack_env


class StatsdListener:
    """A StatsD server on loopback UDP that keeps every line it is sent."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.lines: list[str] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            data, _ = self.sock.recvfrom(65535)
            self.lines += data.decode().splitlines()

    def ours(self) -> list[str]:
        return [line for line in self.lines if ".billing_readiness." in line]


@pytest.fixture
def standalone(make_sandbox, receiver, tmp_path):
    sb = make_sandbox("sched", large_events=20_000, medium_tenants=2, small_tenants=3)
    sb.configure(connections={"alerts": "alerts_webhook"})
    home = tmp_path / "airflow-home"
    home.mkdir()
    env = stack_env(dict(os.environ), home, free_port())
    env.update(
        BILLING_READINESS_SCHEDULE="none",  # manual runs only: no cron tick run on unpause
        AIRFLOW_CONN_ALERTS_WEBHOOK=json.dumps({"conn_type": "http", "host": "127.0.0.1", "port": receiver.port}),
        PYTHONPATH=f"{ROOT}:{ROOT / 'plugins'}",
    )
    statsd = StatsdListener()
    lineage = tmp_path / "openlineage.jsonl"
    env.update(  # the deployment's own metrics and lineage settings: the DAG only uses what Airflow is told
        AIRFLOW__METRICS__STATSD_ON="True",
        AIRFLOW__METRICS__STATSD_HOST="127.0.0.1",
        AIRFLOW__METRICS__STATSD_PORT=str(statsd.port),
        AIRFLOW__METRICS__STATSD_INFLUXDB_ENABLED="True",
        AIRFLOW__OPENLINEAGE__NAMESPACE="readiness",
        AIRFLOW__OPENLINEAGE__TRANSPORT=json.dumps({"type": "file", "log_file_path": str(lineage), "append": True}),
    )
    airflow = AirflowStack(home, env, standalone=True).start()
    airflow.statsd, airflow.lineage = statsd, lineage
    try:
        airflow.wait_healthy()
        airflow.wait_for_dag("billing_readiness")
        airflow.wait_for_dag("m12_2_billing_integration")
        yield airflow, sb, receiver
    finally:
        airflow.stop()


def test_runs_under_the_scheduler_alert_and_promote(standalone):
    airflow, sb, receiver = standalone

    refused = airflow.trigger("billing_readiness", {"lookback_days": 0})
    assert refused.status_code == 400 and "lookback_days" in refused.text
    # NaN passes every JSON-schema bound (NaN > 0.1 is false); the plugin's "finite" format refuses it in the
    # API server too, before a run exists whose tasks would all fail on the null the task API hands them
    nan = airflow.api(
        "POST",
        "/dags/billing_readiness/dagRuns",
        data='{"logical_date": null, "conf": {"reconciliation_tolerance_usd": NaN}}',
        headers={"Content-Type": "application/json"},
    )
    assert nan.status_code in (400, 422) and "reconciliation_tolerance_usd" in nan.text, nan.text
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

    # Airflow's metrics: each check's verdict as gauges with dag and check tags (InfluxDB-style line here),
    # and under a name that carries them for StatsD without tags; a failed check counted.
    lines = airflow.statsd.ours()
    tagged = [line for line in lines if line.startswith("airflow.billing_readiness.check.passed,")]
    assert any(
        "check=usage_coverage" in line and "dag_id=billing_readiness" in line and line.endswith(":1|g")
        for line in tagged
    ), lines
    assert any("check=usage_coverage" in line and line.endswith(":0|g") for line in tagged), lines
    assert "airflow.billing_readiness.billing_readiness.usage_coverage.passed:0|g" in lines
    assert any(
        line.startswith("airflow.billing_readiness.check.failed,") and "check=usage_coverage" in line for line in lines
    )
    assert any(
        line.startswith("airflow.billing_readiness.check.key_figure,")
        and "check=usage_coverage" in line
        and line.endswith(":1|g")
        for line in lines
    )  # one tenant with a failing finding

    # OpenLineage: the failed check's input tables carry its verdict and findings as data-quality assertions.
    events = [json.loads(line) for line in airflow.lineage.read_text().splitlines() if line.strip()]
    failed = [e for e in events if e["eventType"] == "FAIL" and e["job"]["name"].endswith(".check_usage_coverage")]
    assert failed, sorted({(e["eventType"], e["job"]["name"]) for e in events})
    inputs = {i["name"]: i for i in failed[-1]["inputs"]}
    assert set(inputs) == {
        f"{sb.database}.{t}" for t in ("usage_events", "usage_hourly", "usage_daily", "tenant_quotas")
    }
    assertions = {
        a["assertion"]: a
        for a in inputs[f"{sb.database}.usage_events"]["facets"]["dataQualityAssertions"]["assertions"]
    }
    assert assertions["readiness_check"]["success"] is False
    assert assertions["tenant_without_usage"]["success"] is False
    assert "tenant-ghost" in assertions["tenant_without_usage"]["description"]
    passed = [
        e for e in events if e["eventType"] == "COMPLETE" and e["job"]["name"].endswith(".check_quota_enforcement")
    ]
    assert [(t["name"], t["status"]) for t in passed[-1]["run"]["facets"]["test"]["tests"]] == [
        ("quota_enforcement.readiness_check", "pass")
    ]
