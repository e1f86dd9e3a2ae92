"""The hooks against real servers: read-only ClickHouse, transient vs permanent errors, missing connections."""
import json

import pytest

from conftest import CH_PORT, _free_port
from billing_readiness.hooks.clickhouse import ClickHouseHook, ClickHouseQueryError, ClickHouseUnavailable
from billing_readiness.hooks.connections import ConnectionMissing
from billing_readiness.errors import CheckError, is_transient
from billing_readiness.sql import Query


def ch_conn(monkeypatch, port=CH_PORT, database="default", conn_id="CH_TEST"):
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id}", json.dumps(
        {"conn_type": "clickhouse", "host": "127.0.0.1", "port": port, "login": "default", "schema": database}))
    return conn_id.lower()


def test_queries_are_read_only(services, monkeypatch, ch):
    ch.execute("CREATE DATABASE IF NOT EXISTS rt_hooks")
    ch.execute("CREATE TABLE IF NOT EXISTS rt_hooks.t (x UInt8) ENGINE = Memory")
    hook = ClickHouseHook(ch_conn(monkeypatch, database="rt_hooks"))
    assert hook.run(Query("count", "SELECT count() AS n FROM t WHERE x >= %(v)s", {"v": 0}, columns=("n",))) == [{"n": 0}]
    with pytest.raises(ClickHouseQueryError) as err:
        hook.run(Query("a write", "INSERT INTO t SELECT 1"))
    assert "readonly" in str(err.value).lower() or "read only" in str(err.value).lower()
    assert ch.execute("SELECT count() FROM rt_hooks.t") == [(0,)]
    assert hook.queries_sent == 2
    with pytest.raises(CheckError) as err:  # rows are read by name: a query must return the names it declares
        hook.run(Query("count", "SELECT count(), 1 AS n FROM t", columns=("n", "rows")))
    assert "missing column(s) rows; unexpected column(s) count()" in str(err.value)


def test_a_query_setting_that_would_lift_readonly_is_refused(services, monkeypatch):
    hook = ClickHouseHook(ch_conn(monkeypatch))
    with pytest.raises(CheckError, match="asks for setting\\(s\\) readonly"):
        hook.run(Query("a sneaky one", "SELECT 1 AS x", settings={"readonly": 0}, columns=("x",)))
    assert hook.queries_sent == 0  # refused before it was sent


def test_a_rejected_query_fails_at_once_and_shows_the_sql(services, monkeypatch):
    hook = ClickHouseHook(ch_conn(monkeypatch))
    with pytest.raises(ClickHouseQueryError) as err:
        hook.run(Query("usage by tenant", "SELECT tenant FROM no_such_table WHERE d = %(d)s", {"d": "2025-01-01"}))
    assert isinstance(err.value, CheckError) and not is_transient(err.value)  # no retry
    assert "usage by tenant" in str(err.value) and "FROM no_such_table WHERE d = '2025-01-01'" in str(err.value)


def test_an_unreachable_server_is_transient(monkeypatch):
    hook = ClickHouseHook(ch_conn(monkeypatch, port=_free_port()))
    with pytest.raises(ClickHouseUnavailable) as err:
        hook.run(Query("ping", "SELECT 1"))
    assert is_transient(err.value)  # Airflow retries it
    assert "ch_test" in str(err.value)


def test_a_missing_connection_names_the_id_and_how_to_create_it():
    with pytest.raises(ConnectionMissing) as err:
        ClickHouseHook("clickhouse_missing").run(Query("ping", "SELECT 1"))
    assert "'clickhouse_missing'" in str(err.value) and "AIRFLOW_CONN_CLICKHOUSE_MISSING" in str(err.value)
