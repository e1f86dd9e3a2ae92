"""Recognisable secrets planted in every connection (ClickHouse, Redis, quota API, Grafana, the alert webhook's
path) appear nowhere: not in task logs, reports, XComs, Variables, the Asset event's extra or alert bodies."""

import json

import pytest
import redis
from conftest import CH_PASSWORD, REDIS_PORT, _free_port

from m12_1_sandbox import faults

REDIS_SECRET = "redis-secret-91bq"
API_SECRET = "api-secret-5c1w"
GRAFANA_SECRET = "graf-secret-2d8k"
HOOK_SECRET = "/services/T0/B0/hook-secret-e4cz"
SECRETS = [CH_PASSWORD, REDIS_SECRET, API_SECRET, GRAFANA_SECRET, HOOK_SECRET, "hook-secret-e4cz"]


@pytest.fixture
def redis_user(services):
    admin = redis.Redis(host="127.0.0.1", port=REDIS_PORT)
    admin.execute_command("ACL", "SETUSER", "readiness", "on", f">{REDIS_SECRET}", "~*", "&*", "+@all")
    yield "readiness"
    admin.execute_command("ACL", "DELUSER", "readiness")


def everything_stored(run) -> str:
    """Every XCom, Variable and Asset event of the metadata database, and the run's report files."""
    from airflow.models.asset import AssetEvent
    from airflow.models.variable import Variable
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        stored = [
            json.dumps(x.value, default=str)
            for x in session.query(XComModel).filter(XComModel.run_id == run.dagrun.run_id)
        ]
        stored += [f"{v.key}={v.val}" for v in session.query(Variable)]
        stored += [json.dumps(e.extra, default=str) for e in session.query(AssetEvent)]
    stored += [p.read_text(errors="replace") for p in run.dir.iterdir() if p.is_file()]
    return "\n".join(stored)


def test_secrets_appear_nowhere(make_sandbox, run_dag, receiver, redis_user, sandbox_process, monkeypatch, capfd):
    sb = make_sandbox("secrets", large_events=5_000, medium_tenants=1, small_tenants=3)
    grafana_port = sandbox_process("grafana_api", "--token", GRAFANA_SECRET, "--clickhouse-database", sb.database)
    monkeypatch.setenv(
        "AIRFLOW_CONN_REDIS_DEFAULT",
        json.dumps(
            {
                "conn_type": "redis",
                "host": "127.0.0.1",
                "port": REDIS_PORT,
                "login": redis_user,
                "password": REDIS_SECRET,
            }
        ),
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_QUOTA_API_DEFAULT",
        json.dumps({"conn_type": "http", "host": "127.0.0.1", "port": sb.api_port, "password": API_SECRET}),
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_GRAFANA_TEST",
        json.dumps({"conn_type": "http", "host": "127.0.0.1", "port": grafana_port, "password": GRAFANA_SECRET}),
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_ALERTS_WEBHOOK",
        json.dumps({"conn_type": "http", "host": "127.0.0.1", "port": receiver.port, "password": HOOK_SECRET}),
    )
    sb.configure(
        connections={"grafana": "grafana_test", "alerts": "alerts_webhook"},
        dashboard={"grafana_uid": "m12-tenant-usage"},
    )
    ok = run_dag(sb)
    assert ok.state == "success", ok.report["verdict"]  # every secret was used: they are the right ones
    assert receiver.received and receiver.received[0]["path"] == HOOK_SECRET
    faults.add_active_tenant_without_usage(sb.execute, sb.database, "tenant-ghost")
    failed = run_dag(sb)  # a failure alert too
    assert failed.state == "failed" and receiver.events("check_failed")
    monkeypatch.setenv(
        "AIRFLOW_CONN_ALERTS_WEBHOOK",
        json.dumps(  # the webhook down: the alert is logged
            {"conn_type": "http", "host": "127.0.0.1", "port": _free_port(), "password": HOOK_SECRET}
        ),
    )
    # a history of its own, so the persisting failure is news again there (alert_policy: else it is not re-sent)
    sb.configure(report={"dir": str(sb.report_dir.parent / "reports-webhook-down")})
    unsent = run_dag(sb)
    logs = "".join(capfd.readouterr())
    assert "alert could not be sent to connection 'alerts_webhook' (webhook unreachable" in logs
    seen = {
        "task logs": logs,
        "stored": everything_stored(ok)
        + everything_stored(failed)
        + everything_stored(unsent)
        + "".join(p.read_text() for p in sb.report_dir.parent.glob("*/billing_readiness/_history/*.json")),
        "alert bodies": json.dumps(receiver.received),
    }
    leaks = [
        (where, secret)
        for where, text in seen.items()
        for secret in SECRETS
        if secret in text.replace(f'"path": "{HOOK_SECRET}"', "")
    ]  # the receiver's own record of its path
    assert leaks == []
