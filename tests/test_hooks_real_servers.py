"""The hooks against real servers: read-only ClickHouse, transient vs permanent errors, missing connections."""

import json

import pytest
from conftest import CH_PORT, _free_port

from billing_readiness.core.errors import CheckError, is_transient
from billing_readiness.core.sql import Query
from billing_readiness.shell.hooks.clickhouse import ClickHouseHook, ClickHouseQueryError, ClickHouseUnavailable
from billing_readiness.shell.hooks.connections import ConnectionMissing


def ch_conn(monkeypatch, port=CH_PORT, database="default", conn_id="CH_TEST"):
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{conn_id}",
        json.dumps(
            {
                "conn_type": "clickhouse_native",
                "host": "127.0.0.1",
                "port": port,
                "login": "default",
                "schema": database,
            }
        ),
    )
    return conn_id.lower()


def test_queries_are_read_only(services, monkeypatch, ch):
    ch.execute("CREATE DATABASE IF NOT EXISTS rt_hooks")
    ch.execute("CREATE TABLE IF NOT EXISTS rt_hooks.t (x UInt8) ENGINE = Memory")
    hook = ClickHouseHook(ch_conn(monkeypatch, database="rt_hooks"))
    assert hook.run(Query("count", "SELECT count() AS n FROM t WHERE x >= %(v)s", {"v": 0}, columns=("n",))) == [
        {"n": 0}
    ]
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


def native_conn(monkeypatch, conn_id: str, **fields) -> str:
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{conn_id.upper()}",
        json.dumps(
            {"conn_type": "clickhouse_native", "host": "127.0.0.1", "login": "default", "schema": "default", **fields}
        ),
    )
    return conn_id


ONE = Query("one", "SELECT 1 AS x", columns=("x",))


def test_tls_settings_in_the_extras_reach_the_server(services, monkeypatch):
    """The sandbox ClickHouse serves the native protocol over TLS too, with a certificate of its own CA."""
    from conftest import CH_TLS_CA, CH_TLS_PORT

    assert CH_TLS_CA.exists()
    ok = native_conn(
        monkeypatch, "ch_tls", port=CH_TLS_PORT, extra={"secure": True, "verify": True, "ca_certs": str(CH_TLS_CA)}
    )
    assert ClickHouseHook(ok).run(ONE) == [{"x": 1}]
    by_name = native_conn(
        monkeypatch,
        "ch_tls_name",
        port=CH_TLS_PORT,  # the form's names, as strings
        extra={"extra__clickhouse_native__secure": "true", "ca_certs": str(CH_TLS_CA), "server_hostname": "localhost"},
    )
    assert ClickHouseHook(by_name).run(ONE) == [{"x": 1}]
    unverified = native_conn(
        monkeypatch, "ch_tls_noverify", port=CH_TLS_PORT, extra={"secure": "true", "verify": "false"}
    )
    assert ClickHouseHook(unverified).run(ONE) == [{"x": 1}]
    no_ca = native_conn(monkeypatch, "ch_tls_no_ca", port=CH_TLS_PORT, extra={"secure": True})
    with pytest.raises(ClickHouseQueryError) as err:  # permanent: retrying will not make the certificate verify
        ClickHouseHook(no_ca).run(ONE)
    assert "connection 'ch_tls_no_ca'" in str(err.value) and "ca_certs" in str(err.value)
    assert not is_transient(err.value)
    wrong_name = native_conn(
        monkeypatch,
        "ch_tls_wrong_name",
        port=CH_TLS_PORT,
        extra={"secure": True, "ca_certs": str(CH_TLS_CA), "server_hostname": "ch.elsewhere"},
    )
    with pytest.raises(ClickHouseQueryError, match="TLS handshake"):
        ClickHouseHook(wrong_name).run(ONE)


def test_a_connection_made_for_the_official_clickhouse_provider_is_refused_naming_what_to_set(services, monkeypatch):
    """apache-airflow-providers-clickhousedb's type 'clickhouse' is ClickHouse's HTTP interface: refused before
    anything is sent, whether it points at the HTTP port (what the provider uses) or the native one."""
    from conftest import CH_HTTP_PORT

    for port in (CH_HTTP_PORT, CH_PORT):
        monkeypatch.setenv(
            "AIRFLOW_CONN_CLICKHOUSE_DEFAULT",
            json.dumps({"conn_type": "clickhouse", "host": "127.0.0.1", "port": port, "login": "default"}),
        )
        hook = ClickHouseHook("clickhouse_default")
        with pytest.raises(CheckError) as err:
            hook.run(ONE)
        message = str(err.value)
        assert "connection 'clickhouse_default'" in message and "apache-airflow-providers-clickhousedb" in message
        assert "'clickhouse_native'" in message and "config connections.clickhouse" in message
        assert hook.queries_sent == 0  # refused before anything was sent
    native_on_http = native_conn(monkeypatch, "ch_on_http", port=8123)  # the default HTTP port: refused unsent
    with pytest.raises(CheckError, match="HTTP port"):
        ClickHouseHook(native_on_http).run(ONE)


def test_the_quota_control_sees_a_restarted_store_and_its_lost_keys(tmp_path):
    """A Redis without persistence restarted between two looks (what a failover does too): its run id changed
    and the probe's setup keys are gone, and the control says both, naming the connection."""
    import subprocess
    import time

    import redis

    from billing_readiness.config import load_config
    from billing_readiness.shell.hooks.quota_control import RedisQuotaControl

    port = _free_port()

    def start():
        subprocess.run(
            [
                "redis-server",
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(tmp_path),
                "--daemonize",
                "yes",
                "--pidfile",
                str(tmp_path / "r.pid"),
            ],
            check=True,
        )
        for _ in range(100):
            try:
                return redis.Redis(host="127.0.0.1", port=port).ping()
            except redis.ConnectionError:
                time.sleep(0.05)

    start()
    client = redis.Redis(host="127.0.0.1", port=port)
    control = RedisQuotaControl(client, load_config()["quota"], "readiness-probe", "redis_probe_store")
    before = control.store_identity()
    control.setup(10)
    assert before and control.lost(before) is None
    client.shutdown(nosave=True)
    start()
    lost = control.lost(before)
    assert "restarted or failed over" in lost and "connection 'redis_probe_store'" in lost
    assert "tenant:readiness-probe:tier" in lost and "vanished" in lost
    client.shutdown(nosave=True)
