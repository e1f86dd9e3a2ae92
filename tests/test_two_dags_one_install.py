"""A staging and a production readiness DAG built from one install never share state: each reads its own config
Variable (build(config_variable=...)), records its own invoice baseline, probes with its own probe tenant and
promotes its own Asset, so staging never schedules production's M12.2. Both run side by side on the sandbox
through real Airflow (dag.test()), against two databases."""

from __future__ import annotations

import json

from conftest import dag_from_folder

SMALL = {"large_events": 5_000, "medium_tenants": 1, "small_tenants": 3}
FILES = {  # "Airflow" in each: the DagBag parses only files that name it (safe mode)
    "production.py": "# the production Airflow DAG\nfrom billing_readiness.dag import build\n\ndag = build()\n",
    "staging.py": (
        "# the staging Airflow DAG\nfrom billing_readiness.dag import build\n\n"
        "dag = build('billing_readiness_staging', config_variable='billing_readiness_staging_config')\n"
    ),
}


def test_a_staging_and_a_production_dag_keep_their_own_config_baselines_probe_and_asset(
    make_sandbox, tmp_path, monkeypatch, param_defaults
):
    import os

    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    production = make_sandbox("two_dags_prod", **SMALL)
    staging = make_sandbox("two_dags_staging", **{**SMALL, "small_tenants": 2})  # one tenant fewer
    folder = tmp_path / "dags"
    folder.mkdir()
    for name, text in FILES.items():
        (folder / name).write_text(text)
    # production keeps the default connection; staging names its own ClickHouse connection (another database)
    conn = json.loads(os.environ["AIRFLOW_CONN_CLICKHOUSE_NATIVE_DEFAULT"])
    monkeypatch.setenv("AIRFLOW_CONN_CLICKHOUSE_STAGING", json.dumps({**conn, "schema": staging.database}))
    monkeypatch.setenv("AIRFLOW_CONN_CLICKHOUSE_NATIVE_DEFAULT", json.dumps({**conn, "schema": production.database}))
    monkeypatch.setenv(
        "AIRFLOW_VAR_BILLING_READINESS_CONFIG", json.dumps({"report": {"dir": str(tmp_path / "reports-production")}})
    )
    monkeypatch.setenv(
        "AIRFLOW_VAR_BILLING_READINESS_STAGING_CONFIG",
        json.dumps(
            {"report": {"dir": str(tmp_path / "reports-staging")}, "connections": {"clickhouse": "clickhouse_staging"}}
        ),
    )

    runs = {}
    for dag_id in ("billing_readiness", "billing_readiness_staging"):
        dag = dag_from_folder(folder, dag_id)
        runs[dag_id] = (dag, dag.test(run_conf=param_defaults))
    results = {}
    for dag_id, (dag, run) in runs.items():
        states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
        assert states["promote_to_m12_2"] == "success", (dag_id, states)
        report_dir = tmp_path / ("reports-staging" if dag_id.endswith("staging") else "reports-production")
        [report] = list(report_dir.rglob("readiness.json"))
        results[dag_id] = {c["check"]: c for c in json.loads(report.read_text())["checks"]}

    prod, stage = results["billing_readiness"], results["billing_readiness_staging"]
    # its own config: the staging run read its own database (one tenant fewer)
    assert (
        prod["usage_coverage"]["metrics"]["active_tenants"] == stage["usage_coverage"]["metrics"]["active_tenants"] + 1
    )
    baselines = [r["invoice_immutability"]["details"]["baseline_variable"] for r in (prod, stage)]
    assert baselines[0] != baselines[1] and ".billing_readiness_staging." in baselines[1]
    assert (
        prod["quota_enforcement"]["metrics"]["probe_tenant"],
        stage["quota_enforcement"]["metrics"]["probe_tenant"],
    ) == ("readiness-probe", "readiness-probe.billing_readiness_staging")
    assets = [runs[d][0].get_task("promote_to_m12_2").outlets[0].name for d in runs]
    assert assets == ["m12_1_ready_for_billing", "m12_1_ready_for_billing.billing_readiness_staging"]
    with create_session() as session:
        for name in assets:  # each gate updated its own Asset, once
            events = (
                session.query(AssetEvent)
                .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
                .filter(
                    AssetModel.name == name,
                    AssetEvent.source_run_id
                    == runs["billing_readiness" if "." not in name else "billing_readiness_staging"][1].run_id,
                )
                .count()
            )
            assert events == 1, name
