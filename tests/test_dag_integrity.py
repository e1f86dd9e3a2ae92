"""The DAG parses, has the promised shape, and keeps heavy imports out of parse time."""
import subprocess
import sys

import pytest

from conftest import ROOT

CHECKS = ["check_usage_coverage", "check_invoice_immutability", "check_dashboard_latency", "check_quota_enforcement"]


def test_no_import_errors():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert bag.import_errors == {}
    assert "billing_readiness" in bag.dags


def test_four_checks_fan_in_to_a_final_gate_that_runs_whatever_they_did(dag):
    gate = dag.get_task("promote_to_m12_2")
    assert gate.trigger_rule == "all_done"  # a skipped check cannot skip the gate and leave the run green
    assert set(gate.upstream_task_ids) == set(CHECKS)
    assert gate.downstream_task_ids == set()  # a final task: its failure fails the run


def test_check_3_runs_after_the_other_checks_whatever_their_outcome(dag):
    latency = dag.get_task("check_dashboard_latency")
    assert latency.upstream_task_ids == {"check_usage_coverage", "check_invoice_immutability",
                                         "check_quota_enforcement"}
    assert latency.trigger_rule == "all_done"
    for task_id in ("check_usage_coverage", "check_invoice_immutability", "check_quota_enforcement"):
        assert dag.get_task(task_id).upstream_task_ids == set() and dag.get_task(task_id).trigger_rule == "all_success"


def test_report_runs_whatever_happened_and_is_final(dag):
    report = dag.get_task("readiness_report")
    assert report.trigger_rule == "all_done"
    assert set(report.upstream_task_ids) == set(CHECKS)
    assert report.downstream_task_ids == set()


def test_checks_have_retries_for_transient_errors_a_timeout_and_docs(dag):
    # Which errors are retried is errors.is_transient (unit-tested); that a definite failure is not retried
    # and an unreachable service is, is shown by try numbers in test_e2e_dag and test_dashboard_and_quota.
    for task_id in CHECKS:
        task = dag.get_task(task_id)
        assert (task.retries, task.retry_delay.total_seconds()) == (2, 30)
        assert task.execution_timeout is not None and task.doc_md == task.check.doc_md != ""
    assert dag.get_task("promote_to_m12_2").retries == 0


def test_schedule_and_run_limits(dag):
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    assert dag.dagrun_timeout is not None
    assert dag.doc_md and "promote_to_m12_2" in dag.doc_md


# What parsing a DAG file must not import: drivers, and our check internals, report and config (the scheduler
# parses the file again and again; tasks import these when they run). bench/bench_parse.py times the parse.
NOT_AT_PARSE_TIME = ("clickhouse_driver", "redis", "requests", "chdb", "billing_readiness.config",
                     "billing_readiness.report", "billing_readiness.report_html", "billing_readiness.results",
                     "billing_readiness.sql", "billing_readiness.hooks", "billing_readiness.timewindow")
CHECK_INTERNALS = (".queries", ".verdict", ".render", ".panels", ".probe", ".diagnose", ".gaps", ".reconcile",
                   ".closed_month")


@pytest.mark.parametrize("dag_file", ["billing_readiness.py", "m12_2_billing_integration.py"])
def test_dag_files_import_only_what_defines_the_dag(dag_file):
    code = (
        "import sys; sys.path[:0] = [%r, %r]; import runpy; runpy.run_path(%r); "
        "print(','.join(sorted(sys.modules)))"
    ) % (str(ROOT), str(ROOT / "plugins"), str(ROOT / "dags" / dag_file))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = out.stdout.strip().splitlines()[-1].split(",")
    heavy = [m for m in loaded if m.startswith(NOT_AT_PARSE_TIME)
             or (m.startswith("billing_readiness.checks.") and m.endswith(CHECK_INTERNALS))]
    assert heavy == []
    if dag_file == "billing_readiness.py":  # the check cards themselves are loaded: they name the tasks
        assert "billing_readiness.checks.usage_coverage" in loaded
