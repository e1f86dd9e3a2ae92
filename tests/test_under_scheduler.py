"""One end-to-end run under a real scheduler (`airflow standalone`: scheduler, DAG processor, API server,
triggerer), triggered over the REST API as the UI does: the form refuses a bad param, an all-pass run
sends the promotion notice and triggers the M12.2 DAG through the Asset, a failed run alerts and
triggers nothing."""
import json
import os
import time

import pytest

from conftest import ROOT, assert_check_3_timed_alone
from m12_1_sandbox import faults
from m12_1_sandbox.airflow_stack import AirflowStack, free_port, stack_env

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
    airflow = AirflowStack(home, env, standalone=True).start()
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
    nan = airflow.api("POST", "/dags/billing_readiness/dagRuns", data='{"logical_date": null, "conf": '
                      '{"reconciliation_tolerance_usd": NaN}}', headers={"Content-Type": "application/json"})
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
