"""The DAG parses, has the promised shape, and keeps heavy imports out of parse time."""

import subprocess
import sys

import pytest
from conftest import ROOT


@pytest.fixture(params=["four checks", "with a fifth check"])
def any_dag(request, dag):
    """Every shape test holds for the DAG as shipped and for the one with tests/fifth_check.py added."""
    return dag if request.param == "four checks" else request.getfixturevalue("five_check_dag")


def check_tasks(dag) -> list:
    from billing_readiness.shell.operators import ReadinessCheckOperator

    return [t for t in dag.tasks if isinstance(t, ReadinessCheckOperator)]


def test_no_import_errors():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert bag.import_errors == {}
    assert "billing_readiness" in bag.dags


def test_one_task_per_check_of_the_dag_files_list(any_dag):
    from billing_readiness.dag import CHECKS

    ids = [t.check.id for t in check_tasks(any_dag)]
    assert ids[: len(CHECKS)] == [c.id for c in CHECKS] and len(set(ids)) == len(ids)
    assert [t.task_id for t in check_tasks(any_dag)] == [f"check_{i}" for i in ids]


def test_every_check_fans_in_to_a_final_gate_that_runs_whatever_they_did(any_dag):
    gate = any_dag.get_task("promote_to_m12_2")
    assert gate.trigger_rule == "all_done"  # a skipped check cannot skip the gate and leave the run green
    assert set(gate.upstream_task_ids) == {t.task_id for t in check_tasks(any_dag)}
    assert gate.downstream_task_ids == set()  # a final task: its failure fails the run


def test_a_check_that_times_runs_after_the_other_checks_whatever_their_outcome(any_dag):
    last = [t for t in check_tasks(any_dag) if t.check.runs_last]
    others = {t.task_id for t in check_tasks(any_dag) if not t.check.runs_last}
    assert [t.task_id for t in last] == ["check_dashboard_latency"]
    for task in last:
        assert task.upstream_task_ids == others and task.trigger_rule == "all_done"
    for task_id in others:
        task = any_dag.get_task(task_id)
        assert task.upstream_task_ids == set() and task.trigger_rule == "all_success"


def test_report_runs_whatever_happened_and_is_final(any_dag):
    report = any_dag.get_task("readiness_report")
    assert report.trigger_rule == "all_done"
    assert set(report.upstream_task_ids) == {t.task_id for t in check_tasks(any_dag)}
    assert report.downstream_task_ids == set()


def test_checks_have_retries_for_transient_errors_a_timeout_and_docs(any_dag):
    # Which errors are retried is errors.is_transient (unit-tested); that a definite failure is not retried
    # and an unreachable service is, is shown by try numbers in test_e2e_dag and test_dashboard_and_quota.
    for task in check_tasks(any_dag):
        assert (task.retries, task.retry_delay.total_seconds()) == (2, 30)
        assert task.execution_timeout is not None and task.doc_md == task.check.doc_md != ""
    assert any_dag.get_task("promote_to_m12_2").retries == 0


def test_the_form_is_the_checks_params(any_dag):
    from billing_readiness.core.params import declared

    checks = [t.check for t in check_tasks(any_dag)]
    assert {k: v for k, v in any_dag.params.dump().items()} == {
        name: spec.default for name, spec in declared(checks).items()
    }


def test_every_param_schema_is_draft_7_and_its_default_valid_under_it(any_dag):
    """Airflow validates each default at every parse; a schema without "$schema" is first checked against
    the 2020-12 meta-schema, four times the cost (bench/bench_parse.py)."""
    from jsonschema import Draft7Validator, FormatChecker

    from billing_readiness.core.params import SCHEMA_DRAFT

    numbers = 0
    for name, param in any_dag.params.items():
        schema = param.schema
        assert schema["$schema"] == SCHEMA_DRAFT == Draft7Validator.META_SCHEMA["$schema"], name
        Draft7Validator.check_schema(schema)
        validator = Draft7Validator(schema, format_checker=FormatChecker())
        assert not list(validator.iter_errors(param.value)), name
        if schema["type"] == "number":  # the "finite" format still asserts under draft 7
            numbers += 1
            assert list(validator.iter_errors(float("nan"))) and list(validator.iter_errors(float("inf"))), name
    assert numbers >= 3


def test_the_dag_file_cannot_shadow_the_package():
    """With dags/ ahead of plugins/ on sys.path, `billing_readiness` is still the package."""
    code = "import sys; sys.path[:0] = [{!r}, {!r}]; import billing_readiness.checks; print('ok')".format(
        str(ROOT / "dags"),
        str(ROOT / "plugins"),
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr[-2000:]


def test_schedule_and_run_limits(dag):
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    assert dag.dagrun_timeout is not None
    assert dag.doc_md and "promote_to_m12_2" in dag.doc_md


# What parsing a DAG file must not import: drivers, and our check internals, report and config (the scheduler
# parses the file again and again; tasks import these when they run). bench/bench_parse.py times the parse.
NOT_AT_PARSE_TIME = (
    "clickhouse_driver",
    "redis",
    "requests",
    "chdb",
    "billing_readiness.config",
    "billing_readiness.reporting.report",
    "billing_readiness.reporting.report_html",
    "billing_readiness.core.results",
    "billing_readiness.core.sql",
    "billing_readiness.shell.hooks",
    "billing_readiness.core.timewindow",
)
CHECK_INTERNALS = (
    ".queries",
    ".verdict",
    ".render",
    ".panels",
    ".probe",
    ".diagnose",
    ".gaps",
    ".reconcile",
    ".closed_month",
)


@pytest.mark.parametrize("dag_file", ["billing_readiness_dag.py", "m12_2_billing_integration.py"])
def test_dag_files_import_only_what_defines_the_dag(dag_file):
    code = (
        "import sys; sys.path[:0] = [{!r}, {!r}]; import runpy; runpy.run_path({!r}); print(','.join(sorted(sys.modules)))"
    ).format(str(ROOT), str(ROOT / "plugins"), str(ROOT / "dags" / dag_file))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = out.stdout.strip().splitlines()[-1].split(",")
    heavy = [
        m
        for m in loaded
        if m.startswith(NOT_AT_PARSE_TIME)
        or (m.startswith("billing_readiness.checks.") and m.endswith(CHECK_INTERNALS))
    ]
    assert heavy == []
    if dag_file == "billing_readiness_dag.py":  # the check cards themselves are loaded: they name the tasks
        assert "billing_readiness.checks.usage_coverage" in loaded
