"""Looking up Airflow Connections with an error that says which one to create."""

from __future__ import annotations

from airflow.sdk import BaseHook

from billing_readiness.core.errors import CheckError
from billing_readiness.shell import clickhouse_connection

EXAMPLES = {
    "clickhouse": clickhouse_connection.EXAMPLE,
    "redis": '{"conn_type": "redis", "host": "redis.internal", "port": 6379, "extra": {"db": 0}}',
    "http": '{"conn_type": "http", "host": "api.internal", "port": 443, "schema": "https"}',
}


class ConnectionMissing(CheckError):
    """A connection the check needs is not defined (not retried: retrying will not create it)."""


def get_connection(conn_id: str, kind: str, purpose: str):
    try:
        return BaseHook.get_connection(conn_id)
    except Exception as exc:  # AirflowNotFoundException, or a secrets backend error
        if "isn't defined" not in str(exc) and "not found" not in str(exc).lower():
            raise
        env = "AIRFLOW_CONN_" + conn_id.upper()
        raise ConnectionMissing(
            f"Airflow connection '{conn_id}' ({kind}, for {purpose}) is not defined. Create it in the UI "
            f"(Admin > Connections), with `airflow connections add {conn_id} ...`, or as {env}='{EXAMPLES[kind]}'. "
            "docs/operations.md, section Connections, lists its fields (the config key 'connections.*' names the id)."
        ) from None
