"""What an Airflow Connection must hold for the ClickHouse checks, and the clickhouse-driver arguments it gives.

The checks speak ClickHouse's native protocol (clickhouse-driver): connection type `clickhouse_native`, port
9000 (9440 with TLS). The official provider (apache-airflow-providers-clickhousedb) registers the type
`clickhouse` for ClickHouse's HTTP interface (8123/8443, clickhouse-connect). Such a connection is refused
with what to set, never half-used: its port and extras mean something else here, and taking it over would
make one connection serve two protocols. Pure: no Airflow or driver import.
"""
from __future__ import annotations

from typing import Any

CONN_TYPE = "clickhouse_native"
DEFAULT_CONN_ID = "clickhouse_native_default"
PROVIDER_CONN_TYPE = "clickhouse"  # apache-airflow-providers-clickhousedb, HTTP
ACCEPTED_TYPES = (CONN_TYPE, "generic")  # "generic": a connection defined by URI or JSON without a form
HTTP_PORTS = (8123, 8443)
TLS_FILES = ("ca_certs", "certfile", "keyfile")  # paths on the worker, passed to clickhouse-driver as given
EXAMPLE = ('{"conn_type": "clickhouse_native", "host": "ch.internal", "port": 9000, "login": "readiness", '
           '"password": "...", "schema": "default"}')


def flag(value: Any, default: bool) -> bool:
    """A boolean extra as the UI form, JSON or a URI query string write it ("true", "0", true, ...)."""
    if value is None or value == "":
        return default
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"{value!r} is not a boolean (true or false)")
    return bool(value)


def refusal(conn_id: str, conn_type: str | None, port: int | None) -> str | None:
    """Why the connection cannot serve the checks, naming what to set; None when it can."""
    kind = (conn_type or "generic").lower()
    if kind == PROVIDER_CONN_TYPE:
        return (f"connection '{conn_id}' has type 'clickhouse', the official apache-airflow-providers-clickhousedb "
                f"connection for ClickHouse's HTTP interface (port {port or 8123}); billing-readiness speaks the "
                f"native protocol. Create a connection of type '{CONN_TYPE}' (port 9000, or 9440 with extra "
                f"secure=true) for the same server, e.g. {EXAMPLE}, and name it in config connections.clickhouse "
                f"(default '{DEFAULT_CONN_ID}'); leave '{conn_id}' to the provider")
    if kind not in ACCEPTED_TYPES:
        return (f"connection '{conn_id}' has type '{conn_type}', not a ClickHouse connection: give it type "
                f"'{CONN_TYPE}' (native protocol, port 9000 or 9440 with TLS)")
    if port in HTTP_PORTS:
        return (f"connection '{conn_id}' points at port {port}, ClickHouse's HTTP port; the checks use the native "
                "protocol: set port 9000 (or 9440 with extra secure=true)")
    return None


def extras(extra: dict[str, Any]) -> dict[str, Any]:
    """The connection's extras by plain name (older forms stored them as `extra__<conn type>__<name>`)."""
    prefix = f"extra__{CONN_TYPE}__"
    out = {k[len(prefix):]: v for k, v in extra.items() if k.startswith(prefix)}
    out.update({k: v for k, v in extra.items() if not k.startswith(prefix)})
    return out


def timeouts(extra: dict[str, Any], query_timeout_s: int) -> tuple[float, float]:
    """(connect, send/receive) seconds: the extras, else 10 s and the query timeout + 30 s."""
    extra = extras(extra)
    connect, io = extra.get("connect_timeout"), extra.get("send_receive_timeout")
    values = (float(10 if connect in (None, "") else connect),
              float(query_timeout_s + 30 if io in (None, "") else io))
    if min(values) <= 0:
        raise ValueError("connect_timeout and send_receive_timeout must be positive seconds")
    return values


def client_kwargs(conn_id: str, host: str | None, port: int | None, login: str | None, password: str | None,
                  database: str, extra: dict[str, Any], query_timeout_s: int) -> dict[str, Any]:
    """clickhouse-driver Client arguments from the connection's fields and extras (TLS passed through)."""
    extra = extras(extra)
    try:
        secure = flag(extra.get("secure"), False)
        verify = flag(extra.get("verify"), True)
        connect_timeout, send_receive_timeout = timeouts(extra, query_timeout_s)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"connection '{conn_id}': extra {exc}") from None
    kwargs: dict[str, Any] = {
        "host": host or "localhost", "port": int(port or (9440 if secure else 9000)),
        "user": login or "default", "password": password or "", "database": database,
        "secure": secure, "verify": verify, "connect_timeout": connect_timeout,
        "send_receive_timeout": send_receive_timeout,
    }
    for key in (*TLS_FILES, "server_hostname"):
        if extra.get(key):
            if not secure:
                raise ValueError(f"connection '{conn_id}': extra '{key}' is set but 'secure' is not: set "
                                 "secure=true (port 9440) or remove it")
            kwargs[key] = str(extra[key])
    return kwargs
