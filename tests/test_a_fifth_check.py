"""A fifth check is one module (tests/fifth_check.py), its import and one line in the DAG's CHECKS list: it
then runs as a task, gates promotion, appears in the report (Markdown and HTML), sends its own alert, and
the DAG integrity tests hold for it as they do for the four (they derive everything from CHECKS)."""

import json

from conftest import Run


def test_the_fifth_check_gates_reports_and_alerts(five_check_dag, make_sandbox, param_defaults, receiver, monkeypatch):
    dag = five_check_dag
    assert set(dag.get_task("promote_to_m12_2").upstream_task_ids) >= {"check_plan_limits"}
    sb = make_sandbox("fifth", large_events=5_000, medium_tenants=1, small_tenants=2)
    sb.configure(connections={"alerts": "alerts_webhook"})
    monkeypatch.setenv(
        "AIRFLOW_CONN_ALERTS_WEBHOOK", json.dumps({"conn_type": "http", "host": "127.0.0.1", "port": receiver.port})
    )
    ok = Run(dag.test(run_conf=param_defaults), sb)
    assert ok.state == "success" and ok.tasks["check_plan_limits"] == "success"
    assert ok.report["verdict"].startswith("READY: all 5 checks passed")
    [notice] = receiver.events("promoted")
    assert "all 5 readiness checks passed" in receiver.received[0]["json"]["text"]
    assert "## Check 5: Plan limits: PASS" in ok.markdown and "Plan limits checked for 4 tenant(s)." in ok.markdown

    sb.execute(
        f"INSERT INTO {sb.database}.tenant_quotas SELECT 'tenant-s01', 'queries_per_day', 0, 0, now(), now() + 60"
    )
    bad = Run(dag.test(run_conf=param_defaults), sb)
    assert bad.state == "failed" and bad.tasks["promote_to_m12_2"] == "failed"
    assert bad.codes("plan_limits") == {"no_limit"}
    assert bad.report["verdict"] == "NOT READY: Check 5: Plan limits failed."
    html = (bad.dir / "readiness.html").read_text()
    assert "Check 5: Plan limits" in html and "Plan limits checked for 4 tenant(s): tenant-s01" in html
    [alert] = receiver.events("check_failed")
    assert (alert["check"], alert["title"]) == ("plan_limits", "Check 5: Plan limits")
    assert alert["impact"] == "Tenants without a limit can run up usage nobody agreed to pay for."
