"""The whole DAG with dag.test() on the real sandbox: healthy, then one fault per check."""

import pytest

from billing_readiness.core.timewindow import last_closed_month
from m12_1_sandbox import faults

CHECK_TASKS = {
    "usage_coverage": "check_usage_coverage",
    "invoice_immutability": "check_invoice_immutability",
    "dashboard_latency": "check_dashboard_latency",
    "quota_enforcement": "check_quota_enforcement",
}


def assert_only_failed(run, check_id: str, code: str):
    assert run.state == "failed"
    assert run.tasks[CHECK_TASKS[check_id]] == "failed"
    for other, task_id in CHECK_TASKS.items():
        if other != check_id:
            assert run.tasks[task_id] == "success", (other, run.check(other)["summary"])
    assert run.tasks["promote_to_m12_2"] == "failed"  # the gate refused
    assert run.tasks["readiness_report"] == "success"
    assert run.report["ready_for_billing"] is False
    assert code in run.codes(check_id), run.check(check_id)["findings"]
    assert run.check(check_id)["title"] in run.report["verdict"]


def test_healthy_large_sandbox_promotes(large_sandbox, run_dag):
    run = run_dag(large_sandbox)
    assert run.state == "success", run.report and run.report["verdict"]
    assert all(state == "success" for state in run.tasks.values()), run.tasks
    assert run.report["ready_for_billing"] is True
    coverage = run.check("usage_coverage")
    assert coverage["metrics"]["active_tenants"] == 36
    latency = run.check("dashboard_latency")["details"]["tenants"][0]
    assert latency["tenant"] == "acme-corp" and latency["events"] >= 500_000
    assert (run.dir / f"invoices-{last_closed_month(large_sandbox.now)}.csv").exists()
    assert "READY" in run.markdown


def test_active_tenant_without_usage_fails_check_1(make_sandbox, run_dag):
    sandbox = make_sandbox("e2e_ghost")
    faults.add_active_tenant_without_usage(sandbox.execute, sandbox.database, "tenant-ghost")
    run = run_dag(sandbox)
    assert_only_failed(run, "usage_coverage", "tenant_without_usage")
    assert "tenant-ghost" in run.check("usage_coverage")["summary"]


def test_closed_month_costs_changing_between_runs_fails_check_2(make_sandbox, run_dag):
    sandbox = make_sandbox("e2e_mutation")
    first = run_dag(sandbox)
    assert first.state == "success", first.report["verdict"]
    assert "baseline_recorded" in first.codes("invoice_immutability", "info")
    month = last_closed_month(sandbox.now)
    faults.mutate_costs(sandbox.execute, sandbox.database, "tenant-m01", month.start, month.end, factor=1.2)
    second = run_dag(sandbox)
    # ALTER UPDATE bypasses the rollups too, so check 1 also sees drift if the month is in its window.
    assert second.tasks["check_invoice_immutability"] == "failed"
    assert second.tasks["promote_to_m12_2"] == "failed"
    assert second.state == "failed"
    changed = [f for f in second.check("invoice_immutability")["findings"] if f["code"] == "closed_month_changed"]
    assert [f["evidence"]["tenant"] for f in changed] == ["tenant-m01"]
    old, new = (float(changed[0]["evidence"][k]) for k in ("old_total", "new_total"))
    assert new == pytest.approx(old * 1.2, abs=0.02)


def test_slow_dashboard_panel_fails_check_3(large_sandbox, run_dag):
    from billing_readiness.checks.dashboard_latency.panels import DEFAULT_PANELS
    from m12_1_sandbox.demo import SLOW_PANEL as slow

    large_sandbox.configure(dashboard={"panels": DEFAULT_PANELS + [slow]})
    run = run_dag(large_sandbox, latency_threshold_s=0.05, repetitions=3)
    assert_only_failed(run, "dashboard_latency", "dashboard_too_slow")
    assert "panel_reads_raw_table" in run.codes("dashboard_latency", "warn")
    assert "Cost by model and hour (raw events)" in run.check("dashboard_latency")["findings"][-1]["message"] or any(
        "raw events" in f["message"] for f in run.check("dashboard_latency")["findings"] if f["severity"] == "fail"
    )


def test_quota_api_that_does_not_enforce_fails_check_4(make_sandbox, quota_api, run_dag, redis_client):
    sandbox = make_sandbox("e2e_quota")
    sandbox.use_api(quota_api("not_enforced"))
    run = run_dag(sandbox)
    assert_only_failed(run, "quota_enforcement", "quota_not_enforced")
    assert redis_client.keys("*readiness-probe*") == []  # the probe cleaned up after itself


def test_missing_clickhouse_connection_fails_the_checks_that_need_it(make_sandbox, run_dag, monkeypatch):
    sandbox = make_sandbox("e2e_noconn", large_events=5_000, medium_tenants=1, small_tenants=2)
    monkeypatch.delenv("AIRFLOW_CONN_CLICKHOUSE_NATIVE_DEFAULT")
    run = run_dag(sandbox)
    assert run.state == "failed" and run.tasks["promote_to_m12_2"] == "failed"
    for check in ("usage_coverage", "invoice_immutability", "dashboard_latency", "quota_enforcement"):
        assert run.codes(check) == {"check_error"}
        assert "'clickhouse_native_default'" in run.check(check)["findings"][0]["message"]
    # a missing connection is definite: failed on the first try, no retry
    assert {ti.task_id: ti.try_number for ti in run.dagrun.get_task_instances() if ti.task_id.startswith("check_")} == {
        task_id: 1 for task_id in CHECK_TASKS.values()
    }


def test_a_run_checks_as_of_its_own_time_and_a_rerun_checks_the_same_window(make_sandbox, dag, param_defaults):
    """Manual runs are anchored on run_after, not on when a worker picks the task up: events that arrived since
    (here, the last 90 minutes of the sandbox) are neither late nor from the future, and clearing and re-running
    the run (dag.test() on the same logical date clears its task instances) checks the same window and month."""
    import datetime as dt

    from conftest import Run

    from m12_1_sandbox.seed import month_start

    sandbox = make_sandbox("e2e_anchor")
    anchor = max(sandbox.now - dt.timedelta(minutes=90), month_start(sandbox.now) + dt.timedelta(seconds=1))
    assert anchor < dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)
    runs = [Run(dag.test(logical_date=anchor, run_after=anchor, run_conf=param_defaults), sandbox) for _ in range(2)]
    assert runs[0].dagrun.run_id == runs[1].dagrun.run_id  # the same run, cleared and run again
    for run in runs:
        assert run.state == "success", run.report and run.report["verdict"]
        for check in run.report["checks"]:
            assert check["metrics"]["as_of"] == anchor.isoformat(), check["check"]
            assert check["metrics"]["as_of_source"] == "run_after"
            assert check["metrics"]["checked_at"] > anchor.isoformat()
        assert f"Checked as of {anchor.isoformat()} (run_after)" in run.markdown
        assert run.check("usage_coverage")["metrics"]["future_events"] == 0
        assert (run.dir / f"invoices-{last_closed_month(anchor)}.csv").exists()
