"""The gate never promotes silently on a loosened, skipped or misspelt run (real Airflow, real services)."""

import json

import pytest
from conftest import ROOT, Run

from billing_readiness.core.timewindow import last_closed_month
from m12_1_sandbox import faults

SMALL = {"large_events": 5_000, "medium_tenants": 1, "small_tenants": 3}


def alerting(sb, receiver, monkeypatch):
    sb.configure(connections={"alerts": "alerts_webhook"})
    monkeypatch.setenv(
        "AIRFLOW_CONN_ALERTS_WEBHOOK",
        json.dumps({"conn_type": "http", "host": "127.0.0.1", "port": receiver.port, "extra": {"path": "/hook"}}),
    )


def test_a_manual_run_with_relaxed_params_promotes_only_saying_so(make_sandbox, run_dag, receiver, monkeypatch):
    sb = make_sandbox("gr_relaxed", **SMALL)
    alerting(sb, receiver, monkeypatch)
    sb.configure(promotion={"allow_relaxed": "manual"})  # a deployment opts in; the default is "never"
    run = run_dag(sb, invoice_tolerance_usd=0.05, concurrency_probe=False)
    assert run.state == "success"
    relaxed = ["invoice_tolerance_usd = 0.05 (strict: 0.01)", "concurrency_probe = False (strict: True)"]
    assert run.report["run"]["relaxed"] == relaxed and "With relaxed checks" in run.report["verdict"]
    assert "**Relaxed checks**" in run.markdown
    [notice] = receiver.events("promoted")
    assert notice["relaxed"] == relaxed and "promoted with relaxed checks" in receiver.received[-1]["json"]["text"]
    gate = next(ti for ti in run.dagrun.get_task_instances() if ti.task_id == "promote_to_m12_2")
    assert gate.xcom_pull(task_ids="promote_to_m12_2")["relaxed"] == relaxed  # the Asset event's extra


def test_by_default_a_relaxed_run_never_promotes_and_the_refusal_alerts(make_sandbox, run_dag, receiver, monkeypatch):
    sb = make_sandbox("gr_never", **SMALL)
    alerting(sb, receiver, monkeypatch)
    run = run_dag(sb, reconciliation_tolerance_usd=0.1)
    assert run.state == "failed" and run.tasks["promote_to_m12_2"] == "failed"
    assert all(run.tasks[t] == "success" for t in run.tasks if t.startswith("check_"))
    [refusal] = receiver.events("promotion_refused")
    assert (
        "reconciliation_tolerance_usd = 0.1" in refusal["reasons"][0]
        and "promotion.allow_relaxed" in refusal["reasons"][0]
    )
    assert receiver.events("promoted") == []
    assert run_dag(sb).state == "success"  # the strict defaults promote


@pytest.mark.parametrize("param, value", [("invoice_tolerance_usd", 100), ("reconciliation_tolerance_usd", 0.5)])
def test_tolerances_are_capped_at_ten_cents(dag, param_defaults, param, value):
    from airflow.sdk.definitions.param import ParamValidationError

    with pytest.raises(ParamValidationError, match=param):
        dag.test(run_conf={**param_defaults, param: value})


def test_a_price_change_of_twenty_percent_cannot_hide_in_the_tolerance(make_sandbox, run_dag):
    sb = make_sandbox("gr_reprice", **SMALL)
    month = last_closed_month(sb.now)
    faults.mutate_costs(sb.execute, sb.database, "tenant-s02", month.start, month.end, factor=1.2)
    run = run_dag(sb, invoice_tolerance_usd=0.1, reconciliation_tolerance_usd=0.1)
    assert run.state == "failed" and "closed_month_mutated" in run.codes("invoice_immutability")


def test_an_unknown_key_in_the_runs_conf_is_refused(make_sandbox, run_dag):
    sb = make_sandbox("gr_unknown", **SMALL)
    run = run_dag(sb, lookback_day=5)
    assert run.state == "failed"
    for check in ("usage_coverage", "invoice_immutability", "dashboard_latency", "quota_enforcement"):
        assert run.codes(check) == {"check_error"}
        assert "unknown param(s) in the run's conf: lookback_day" in run.check(check)["findings"][0]["message"]


def test_a_skipped_check_fails_the_run_and_alerts(
    make_sandbox, param_defaults, receiver, monkeypatch, airflow_db, tmp_path
):
    """A check skipped from outside (marked skipped, a skipping upstream) has no result: the gate refuses."""
    from conftest import dag_from_folder

    sb = make_sandbox("gr_skip", **SMALL)
    alerting(sb, receiver, monkeypatch)
    folder = tmp_path / "dags"
    folder.mkdir()
    source = (ROOT / "dags" / "billing_readiness_dag.py").read_text()
    shipped = "dag = build()\n"
    assert shipped in source
    copy = source.replace(
        shipped,
        (
            'dag = build("billing_readiness_skip")\n\n\n'
            "def skipped_from_outside(context):\n"
            "    from airflow.sdk.exceptions import AirflowSkipException\n\n"
            "    raise AirflowSkipException('skipped from outside the check')\n\n\n"
            'dag.get_task("check_invoice_immutability").execute = skipped_from_outside\n'
        ),
    )
    (folder / "skipping.py").write_text(copy)
    dag = dag_from_folder(folder, "billing_readiness_skip")
    run = Run(dag.test(run_conf=param_defaults), sb)
    assert run.tasks["check_invoice_immutability"] == "skipped"
    assert run.tasks["promote_to_m12_2"] == "failed" and run.state == "failed"
    assert run.report["ready_for_billing"] is False and run.codes("invoice_immutability") == {"no_result"}
    [refusal] = receiver.events("promotion_refused")
    assert "Check 2: Immutable cost storage: no result" in refusal["reasons"][0]
