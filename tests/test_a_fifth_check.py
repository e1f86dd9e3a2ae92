"""A fifth check is one module (tests/fifth_check.py) and one line in the DAG file: it then runs as a task,
gates promotion, appears in the report (Markdown and HTML) and sends its own alert."""
import json

import pytest

from conftest import ROOT, Run

FIFTH_LINE = '    "fifth_check",  # check 5 (tests only): plan limits\n'


@pytest.fixture(scope="module")
def five_check_dag(airflow_db, tmp_path_factory):
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db

    source = (ROOT / "dags" / "billing_readiness.py").read_text()
    anchor = '    "billing_readiness.checks.quota_enforcement",  # check 4: quota enforcement\n'
    assert anchor in source
    folder = tmp_path_factory.mktemp("dags")
    copy = source.replace(anchor, anchor + FIFTH_LINE).replace('dag_id="billing_readiness"', 'dag_id="billing_readiness_5"')
    assert len(copy.splitlines()) == len(source.splitlines()) + 1  # one line added (and a test-only dag id)
    (folder / "billing_readiness_5.py").write_text(copy)
    bag = DagBag(dag_folder=str(folder))
    assert not bag.import_errors, bag.import_errors
    from airflow.dag_processing.bundles.manager import DagBundlesManager

    DagBundlesManager().sync_bundles_to_db()  # dag.test() runs only DAGs the DB knows, in a bundle it knows
    sync_bag_to_db(bag, bundle_name="dags-folder", bundle_version=None)
    return bag.dags["billing_readiness_5"]


def test_the_fifth_check_gates_reports_and_alerts(five_check_dag, make_sandbox, param_defaults, receiver, monkeypatch):
    dag = five_check_dag
    assert set(dag.get_task("promote_to_m12_2").upstream_task_ids) >= {"check_plan_limits"}
    sb = make_sandbox("fifth", large_events=5_000, medium_tenants=1, small_tenants=2)
    sb.configure(connections={"alerts": "alerts_webhook"})
    monkeypatch.setenv("AIRFLOW_CONN_ALERTS_WEBHOOK", json.dumps({"conn_type": "http", "host": "127.0.0.1",
                                                                  "port": receiver.port}))
    ok = Run(dag.test(run_conf=param_defaults), sb)
    assert ok.state == "success" and ok.tasks["check_plan_limits"] == "success"
    assert ok.report["verdict"].startswith("READY: all 5 checks passed")
    [notice] = receiver.events("promoted")
    assert "all 5 readiness checks passed" in receiver.received[0]["json"]["text"]
    assert "## Check 5: Plan limits: PASS" in ok.markdown and "Plan limits checked for 4 tenant(s)." in ok.markdown

    sb.execute(f"INSERT INTO {sb.database}.tenant_quotas SELECT 'tenant-s01', 'queries_per_day', 0, 0, now(), "
               "now() + 60")
    bad = Run(dag.test(run_conf=param_defaults), sb)
    assert bad.state == "failed" and bad.tasks["promote_to_m12_2"] == "failed"
    assert bad.codes("plan_limits") == {"no_limit"}
    assert bad.report["verdict"] == "NOT READY: Check 5: Plan limits failed."
    html = (bad.dir / "readiness.html").read_text()
    assert "Check 5: Plan limits" in html and "Plan limits checked for 4 tenant(s): tenant-s01" in html
    [alert] = receiver.events("check_failed")
    assert (alert["check"], alert["title"]) == ("plan_limits", "Check 5: Plan limits")
    assert alert["impact"] == "Tenants without a limit can run up usage nobody agreed to pay for."
