"""The ClickHouse hook is a common.sql DbApiHook: the provider's check operators run on the clickhouse_native
connection against the sandbox ClickHouse, passing and failing; a user's SQLTableCheckOperator added to the
readiness DAG with gate_on() gates promotion like the readiness checks; test_connection answers; the
connections users already keep (types generic, sqlite, clickhouse on the native port) and the extras they rely
on work on the real server. Real ClickHouse, real Airflow (dag.test())."""

from __future__ import annotations

import json
import textwrap

import pytest
from conftest import CH_PASSWORD, CH_PORT, dag_from_folder

SMALL = {"large_events": 5_000, "medium_tenants": 1, "small_tenants": 3}

CHECKS_DAG = """
import pendulum
from airflow.providers.common.sql.operators.sql import (
    SQLCheckOperator, SQLColumnCheckOperator, SQLValueCheckOperator)
from airflow.sdk import DAG

C = "clickhouse_native_default"
with DAG("common_sql_on_clickhouse", schedule=None, start_date=pendulum.datetime(2025, 1, 1)):
    SQLCheckOperator(task_id="events_exist", conn_id=C, sql="SELECT count() > 0 FROM usage_events")
    SQLCheckOperator(task_id="no_events_fails", conn_id=C, sql="SELECT count() = 0 FROM usage_events")
    SQLValueCheckOperator(task_id="tenants_with_plans", conn_id=C, pass_value=TENANTS,
                          sql="SELECT uniqExact(tenant_id) FROM tenant_quotas")
    SQLValueCheckOperator(task_id="wrong_tenant_count_fails", conn_id=C, pass_value=TENANTS + 100,
                          sql="SELECT uniqExact(tenant_id) FROM tenant_quotas")
    # One operator's checks are one UNION ALL: ClickHouse wants their results of one type (Float64 here)
    SQLColumnCheckOperator(task_id="columns_hold", conn_id=C, table="usage_events",
                           column_mapping={"quantity": {"min": {"geq_to": 0}, "max": {"greater_than": 0}}})
    SQLColumnCheckOperator(task_id="ids_present", conn_id=C, table="usage_events",
                           column_mapping={"event_id": {"null_check": {"equal_to": 0},
                                                        "distinct_check": {"greater_than": 0}}})
    SQLColumnCheckOperator(task_id="columns_fail", conn_id=C, table="usage_events",
                           column_mapping={"quantity": {"max": {"leq_to": 0}}})
"""

GATED_DAG = """
from airflow.providers.common.sql.operators.sql import SQLTableCheckOperator
from billing_readiness.dag import build, gate_on

dag = build("billing_readiness_user_check")
with dag:
    daily = SQLTableCheckOperator(
        task_id="usage_daily_has_rows", conn_id="clickhouse_native_default", table="usage_daily",
        checks={"row_count_check": {"check_statement": "COUNT(*) > MINIMUM"}})
gate_on(dag, daily)
"""


def _dag(tmp_path, name: str, source: str, dag_id: str):
    folder = tmp_path / f"dags_{name}"
    folder.mkdir()
    (folder / f"{name}.py").write_text(textwrap.dedent(source))
    return dag_from_folder(folder, dag_id)


def test_common_sql_check_operators_pass_and_fail_on_our_connection(make_sandbox, tmp_path):
    sb = make_sandbox("csql_checks", **SMALL)
    tenants = len(sb.plan.tenants)
    dag = _dag(tmp_path, "common_sql", CHECKS_DAG.replace("TENANTS", str(tenants)), "common_sql_on_clickhouse")
    states = {ti.task_id: str(ti.state) for ti in dag.test().get_task_instances()}
    assert states == {
        "events_exist": "success",
        "no_events_fails": "failed",
        "tenants_with_plans": "success",
        "wrong_tenant_count_fails": "failed",
        "columns_hold": "success",
        "ids_present": "success",
        "columns_fail": "failed",
    }


@pytest.mark.parametrize("minimum, promoted", [(0, True), (10**12, False)])
def test_a_users_own_sql_check_gates_promotion_like_the_readiness_checks(
    make_sandbox, tmp_path, param_defaults, minimum, promoted
):
    sb = make_sandbox("csql_gated", **SMALL)
    dag = _dag(tmp_path, f"gated_{minimum}", GATED_DAG.replace("MINIMUM", str(minimum)), "billing_readiness_user_check")
    run = dag.test(run_conf=param_defaults)
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    assert states["usage_daily_has_rows"] == ("success" if promoted else "failed")
    assert all(
        states[f"check_{c}"] == "success"
        for c in ("usage_coverage", "invoice_immutability", "dashboard_latency", "quota_enforcement")
    ), states
    assert states["promote_to_m12_2"] == ("success" if promoted else "failed") and sb.database


def _ch_hook(monkeypatch, conn: dict, conn_id: str = "ch_users_own"):
    from billing_readiness.shell.hooks.clickhouse import ClickHouseHook

    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
    return ClickHouseHook(conn_id)


BASE = {"host": "127.0.0.1", "port": CH_PORT, "login": "readiness", "password": CH_PASSWORD, "schema": "default"}


@pytest.mark.parametrize(
    "conn",
    [
        {**BASE, "conn_type": "clickhouse_native"},
        {**BASE, "conn_type": "generic"},
        {**BASE, "conn_type": "sqlite"},  # airflow-clickhouse-plugin's convention
        # a 'clickhouse' connection on the native protocol (the sandbox's native port is not 9000: the extra says so)
        {**BASE, "conn_type": "clickhouse", "extra": {"protocol": "native"}},
        {
            **BASE,
            "conn_type": "clickhouse_native",
            "extra": {
                "compression": "lz4",
                "client_name": "users-etl",
                "alt_hosts": f"127.0.0.1:{CH_PORT}",
                "settings": {"max_threads": 1, "max_block_size": 4096},
            },
        },
    ],
)
def test_the_connections_users_keep_work_on_the_real_server(services, airflow_db, monkeypatch, conn):
    hook = _ch_hook(monkeypatch, conn)
    assert hook.get_first("SELECT 1 + 1") == (2,)
    assert hook.get_records("SELECT number FROM system.numbers LIMIT 3") == [(0,), (1,), (2,)]
    assert hook.test_connection() == (True, "Connection successfully tested")
    settings = dict(
        hook.get_records(
            "SELECT name, value FROM system.settings WHERE name IN ('readonly', 'max_threads', 'max_execution_time')"
        )
    )
    assert settings["readonly"] == "2" and settings["max_execution_time"] == "120"  # the guards, on every query
    if "settings" in conn.get("extra", {}):
        assert settings["max_threads"] == "1"  # the user's own settings pass through
    with pytest.raises(Exception, match="readonly|Cannot execute query in readonly mode|164"):
        hook.run("CREATE TABLE default.should_never_exist (x UInt8) ENGINE = Memory")


@pytest.mark.parametrize(
    "conn, says",
    [
        (
            {**BASE, "conn_type": "clickhouse", "port": 8123},
            "has type 'clickhouse' on port 8123, ClickHouse's HTTP interface",
        ),
        (
            {**BASE, "conn_type": "clickhouse"},
            f"has type 'clickhouse' on port {CH_PORT}, neither a native (9000/9440) nor an HTTP port",
        ),
        (
            {**BASE, "conn_type": "clickhouse_native", "extra": {"settings": {"readonly": 0}}},
            "extra settings readonly would lift the checks' read-only guard",
        ),
        (
            {**BASE, "conn_type": "clickhouse_native", "extra": {"settings": {"max_execution_time": 0}}},
            "extra settings max_execution_time would lift",
        ),
    ],
)
def test_connections_that_cannot_serve_are_refused_naming_what_to_fix(services, airflow_db, monkeypatch, conn, says):
    from billing_readiness.core.errors import CheckError

    with pytest.raises(CheckError, match=says.replace("(", r"\(").replace(")", r"\)")):
        _ch_hook(monkeypatch, conn).get_first("SELECT 1")
    ok, message = _ch_hook(monkeypatch, conn, "ch_refused_form").test_connection()
    assert ok is False and says.split(",")[0] in message  # the form's Test button says it too


def test_a_wrong_password_fails_the_test_button_without_showing_it(services, airflow_db, monkeypatch):
    ok, message = _ch_hook(
        monkeypatch, {**BASE, "conn_type": "clickhouse_native", "password": "wrong-pw-7Zq"}
    ).test_connection()
    assert ok is False and "wrong-pw-7Zq" not in message and "Fix the login, password" in message
