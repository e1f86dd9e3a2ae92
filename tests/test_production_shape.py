"""The production shape, run here: Airflow on a PostgreSQL metadata database with the scheduler, DAG processor,
API server and triggerer as separate processes (LocalExecutor, parallelism 4). A healthy run promotes and
triggers M12.2 through the Asset; the invoice baseline survives a restart of every Airflow process; a faulty
run fails the right check, alerts, and triggers nothing."""

import json
import os
import subprocess
import time

import pytest
from conftest import ROOT, assert_check_3_timed_alone

from billing_readiness.core.results import XCOM_LIMIT_BYTES
from m12_1_sandbox import faults
from m12_1_sandbox.airflow_stack import AirflowStack, free_port, stack_env

READINESS, M12_2 = "billing_readiness", "m12_2_billing_integration"


def postgres(*args) -> str:
    return subprocess.run(
        ["bash", str(ROOT / "scripts" / "postgres.sh"), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture
def production(make_sandbox, receiver, tmp_path):
    database = "airflow_test_production"
    postgres("start", database)
    postgres("reset", database)  # a fresh metadata database: no baseline yet
    sb = make_sandbox("prod", large_events=20_000, medium_tenants=2, small_tenants=3)
    sb.configure(connections={"alerts": "alerts_webhook"})
    home = tmp_path / "airflow-home"
    home.mkdir()
    env = stack_env(dict(os.environ), home, free_port(), postgres("url", database))
    env.update(
        BILLING_READINESS_SCHEDULE="none",
        PYTHONPATH=f"{ROOT}:{ROOT / 'plugins'}",
        AIRFLOW_CONN_ALERTS_WEBHOOK=json.dumps({"conn_type": "http", "host": "127.0.0.1", "port": receiver.port}),
    )
    stacks = []

    def start() -> AirflowStack:
        stack = AirflowStack(home, env)
        if not stacks:
            stack.migrate()
        stacks.append(stack.start())
        stack.wait_healthy()
        stack.wait_for_dag(READINESS)
        stack.wait_for_dag(M12_2)
        return stack

    try:
        yield start, sb, receiver
    finally:
        for stack in stacks:
            stack.stop()


def xcom(stack, run_id, task_id, key="check_result"):
    resp = stack.api(
        "GET",
        f"/dags/{READINESS}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}",
        params={"deserialize": "true"},
    )
    assert resp.status_code == 200, resp.text
    value = resp.json()["value"]
    return json.loads(value) if isinstance(value, str) else value


def whole_result(sb, run_id, task_id):
    """Where a check's whole result is, beside the report (XCom carries its bounded hand-over)."""
    from billing_readiness.reporting.artifacts import run_folder_name

    return sb.report_dir / run_folder_name(READINESS, run_id) / f"{task_id}.result.json"


def m12_2_runs_after(stack, count, timeout=120):
    deadline = time.monotonic() + timeout
    while len(stack.runs(M12_2)) <= count and time.monotonic() < deadline:
        time.sleep(2)
    return stack.runs(M12_2)


def test_postgres_backed_airflow_promotes_keeps_the_baseline_across_restarts_and_alerts(production):
    start, sb, receiver = production
    stack = start()
    assert stack.env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
    assert stack.api("GET", "/monitor/health").json()["metadatabase"]["status"] == "healthy"

    first = stack.trigger(READINESS).json()["dag_run_id"]
    assert stack.wait_run(READINESS, first) == "success", stack.task_states(READINESS, first)
    assert_check_3_timed_alone(stack.task_instances(READINESS, first))  # tasks in parallel, check 3 alone
    [m12_2] = m12_2_runs_after(stack, 0)
    assert stack.wait_run(M12_2, m12_2["dag_run_id"]) == "success"
    sent = xcom(stack, first, "check_usage_coverage")  # the hand-over round-trips through PostgreSQL
    file = whole_result(sb, first, "check_usage_coverage")
    assert sent["passed"] and sent["details"] is None and sent["result_file"] == file.name
    assert len(json.dumps(sent)) <= XCOM_LIMIT_BYTES
    coverage = json.loads(file.read_text())  # the whole result, beside the report
    assert coverage["passed"] and len(coverage["details"]["coverage"]["tenants"]) == 6
    invoice = json.loads(whole_result(sb, first, "check_invoice_immutability").read_text())
    assert invoice["details"]["baseline"].startswith("recorded")
    key = invoice["details"]["baseline_variable"]
    stored = stack.api("GET", f"/variables/{key}").json()
    assert json.loads(stored["value"])["lines"], stored  # the baseline is in PostgreSQL

    stack.stop()  # every Airflow process; PostgreSQL keeps the state
    stack = start()
    second = stack.trigger(READINESS).json()["dag_run_id"]
    assert stack.wait_run(READINESS, second) == "success"
    assert xcom(stack, second, "check_invoice_immutability")["passed"]
    again = json.loads(whole_result(sb, second, "check_invoice_immutability").read_text())
    assert again["details"]["baseline"].startswith("compared with the baseline recorded")
    assert again["details"]["baseline_variable"] == key
    m12_2_count = len(m12_2_runs_after(stack, 1))
    assert m12_2_count == 2

    faults.add_active_tenant_without_usage(sb.execute, sb.database, "tenant-ghost")
    bad = stack.trigger(READINESS).json()["dag_run_id"]
    assert stack.wait_run(READINESS, bad) == "failed"
    states = stack.task_states(READINESS, bad)
    assert states["check_usage_coverage"] == "failed" and states["promote_to_m12_2"] == "failed"
    assert {t: s for t, s in states.items() if t not in ("check_usage_coverage", "promote_to_m12_2")} == {
        "check_invoice_immutability": "success",
        "check_dashboard_latency": "success",
        "check_quota_enforcement": "success",
        "readiness_report": "success",
    }
    deadline = time.monotonic() + 60  # callbacks run in their own processes
    while not receiver.events("check_failed") and time.monotonic() < deadline:
        time.sleep(1)
    [alert] = receiver.events("check_failed")
    assert alert["check"] == "usage_coverage" and alert["run_id"] == bad and "tenant-ghost" in alert["reasons"][0]
    time.sleep(10)
    assert len(stack.runs(M12_2)) == m12_2_count  # nothing triggered
    # the first promotion is announced; the second, after a run that promoted too, is not (alerts.notify_on)
    assert [e["run_id"] for e in receiver.events("promoted")] == [first]
