"""What an Airflow Connection must hold for the ClickHouse checks, and the clickhouse-driver arguments it gives.

The checks speak ClickHouse's native protocol (clickhouse-driver), port 9000 (9440 with TLS). Connections users
already keep for it are accepted: type `clickhouse_native` (ours), `generic` and `sqlite` (what
airflow-clickhouse-plugin's README tells its users to create), and `clickhouse` on a native port (9000/9440) or
with extra `protocol: native`. A `clickhouse` connection on ClickHouse's HTTP interface (8123/8443, the official
apache-airflow-providers-clickhousedb with clickhouse-connect) is refused with what to set, never half-used.
Every extra clickhouse-driver's Client takes is passed through (compression, alt_hosts, client_name, settings,
...); a setting that would lift read-only or the time limit is refused naming it. Pure: no Airflow or driver
import.
"""

from __future__ import annotations

from typing import Any

CONN_TYPE = "clickhouse_native"
DEFAULT_CONN_ID = "clickhouse_native_default"
PROVIDER_CONN_TYPE = "clickhouse"  # apache-airflow-providers-clickhousedb, HTTP
# "generic": a connection defined by URI or JSON without a form; "sqlite": airflow-clickhouse-plugin's convention
ACCEPTED_TYPES = (CONN_TYPE, "generic", "sqlite")
HTTP_PORTS = (8123, 8443)
NATIVE_PORTS = (9000, 9440)
# clickhouse-driver Client arguments a connection's extras may set (beyond host, port, user, password, database)
CLIENT_EXTRAS = (
    "secure",
    "verify",
    "ca_certs",
    "certfile",
    "keyfile",
    "server_hostname",
    "ssl_version",
    "ciphers",
    "alt_hosts",
    "round_robin",
    "compression",
    "compress_block_size",
    "client_name",
    "connect_timeout",
    "send_receive_timeout",
    "sync_request_timeout",
    "tcp_keepalive",
    "settings_is_important",
    "settings",
)
# Extras that are no Client argument: the form's own, and what the airflow-clickhouse-plugin / DbApiHook read
META_EXTRAS = ("protocol", "placeholder")
# Settings that would lift the checks' guards: read-only and the time limit (the hook sets both on every query)
UNSAFE_SETTINGS = ("readonly", "allow_ddl", "allow_introspection_functions", "max_execution_time")
TLS_FILES = ("ca_certs", "certfile", "keyfile")  # paths on the worker, passed to clickhouse-driver as given
EXAMPLE = (
    '{"conn_type": "clickhouse_native", "host": "ch.internal", "port": 9000, "login": "readiness", '
    '"password": "...", "schema": "default"}'
)


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


def refusal(conn_id: str, conn_type: str | None, port: int | None, extra: dict[str, Any] | None = None) -> str | None:
    """Why the connection cannot serve the checks, naming what to set; None when it can."""
    kind = (conn_type or "generic").lower()
    protocol = str(extras(extra or {}).get("protocol") or "").lower()
    if kind == PROVIDER_CONN_TYPE:
        if port in NATIVE_PORTS or (protocol == "native" and port not in HTTP_PORTS):
            return None  # a 'clickhouse' connection to the native protocol (airflow-clickhouse-plugin users)
        where = (
            f"on port {port or 'unset (8123)'}, ClickHouse's HTTP interface"
            if port in (*HTTP_PORTS, None)
            else f"on port {port}, neither a native (9000/9440) nor an HTTP port, so it is taken for the HTTP interface"
        )
        return (
            f"connection '{conn_id}' has type 'clickhouse' {where} (the official "
            "apache-airflow-providers-clickhousedb); billing-readiness speaks the native protocol. Point it at "
            "the native port (9000, or 9440 with extra secure=true), or set extra protocol=native if its port "
            f"is native, or create a connection of type '{CONN_TYPE}' for the same server, e.g. {EXAMPLE}, and "
            f"name it in config connections.clickhouse (default '{DEFAULT_CONN_ID}')"
        )
    if kind not in ACCEPTED_TYPES:
        return (
            f"connection '{conn_id}' has type '{conn_type}', not a ClickHouse connection: give it type "
            f"'{CONN_TYPE}' (native protocol, port 9000 or 9440 with TLS)"
        )
    if port in HTTP_PORTS:
        return (
            f"connection '{conn_id}' points at port {port}, ClickHouse's HTTP port; the checks use the native "
            "protocol: set port 9000 (or 9440 with extra secure=true)"
        )
    if protocol and protocol != "native":
        return (
            f"connection '{conn_id}' has extra protocol={protocol!r}; the checks use the native protocol: set "
            "protocol=native (or remove it) and a native port"
        )
    return None


def extras(extra: dict[str, Any]) -> dict[str, Any]:
    """The connection's extras by plain name (older forms stored them as `extra__<conn type>__<name>`)."""
    prefix = f"extra__{CONN_TYPE}__"
    out = {k[len(prefix) :]: v for k, v in extra.items() if k.startswith(prefix)}
    out.update({k: v for k, v in extra.items() if not k.startswith(prefix)})
    return out


def timeouts(extra: dict[str, Any], query_timeout_s: int) -> tuple[float, float]:
    """(connect, send/receive) seconds: the extras, else 10 s and the query timeout + 30 s."""
    extra = extras(extra)
    connect, io = extra.get("connect_timeout"), extra.get("send_receive_timeout")
    values = (
        float(10 if connect in (None, "") else connect),  # type: ignore[arg-type]
        float(query_timeout_s + 30 if io in (None, "") else io),  # type: ignore[arg-type]
    )
    if min(values) <= 0:
        raise ValueError("connect_timeout and send_receive_timeout must be positive seconds")
    return values


def client_kwargs(
    conn_id: str,
    host: str | None,
    port: int | None,
    login: str | None,
    password: str | None,
    database: str,
    extra: dict[str, Any],
    query_timeout_s: int,
) -> dict[str, Any]:
    """clickhouse-driver Client arguments from the connection's fields and extras (TLS passed through)."""
    extra = extras(extra)
    try:
        secure = flag(extra.get("secure"), False)
        verify = flag(extra.get("verify"), True)
        connect_timeout, send_receive_timeout = timeouts(extra, query_timeout_s)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"connection '{conn_id}': extra {exc}") from None
    kwargs: dict[str, Any] = {
        "host": host or "localhost",
        "port": int(port or (9440 if secure else 9000)),
        "user": login or "default",
        "password": password or "",
        "database": database,
        "secure": secure,
        "verify": verify,
        "connect_timeout": connect_timeout,
        "send_receive_timeout": send_receive_timeout,
    }
    for key in (*TLS_FILES, "server_hostname"):
        if extra.get(key):
            if not secure:
                raise ValueError(
                    f"connection '{conn_id}': extra '{key}' is set but 'secure' is not: set "
                    "secure=true (port 9440) or remove it"
                )
            kwargs[key] = str(extra[key])
    kwargs.update(_passed_through(conn_id, extra))
    return kwargs


def _passed_through(conn_id: str, extra: dict[str, Any]) -> dict[str, Any]:
    """The extras clickhouse-driver's Client takes beyond those read above, as it takes them; an extra it does
    not take, or a setting that would lift the checks' guards, is refused naming it."""
    handled = {"secure", "verify", "connect_timeout", "send_receive_timeout", *TLS_FILES, "server_hostname"}
    unknown = sorted(k for k, v in extra.items() if k not in CLIENT_EXTRAS + META_EXTRAS and v not in (None, ""))
    if unknown:
        raise ValueError(
            f"connection '{conn_id}': extra {', '.join(unknown)} is not a clickhouse-driver Client "
            f"argument (those are: {', '.join(CLIENT_EXTRAS)})"
        )
    out: dict[str, Any] = {}
    for key in CLIENT_EXTRAS:
        value = extra.get(key)
        if key in handled or value in (None, ""):
            continue
        if key == "settings":
            if isinstance(value, str):
                import json

                try:
                    value = json.loads(value)
                except ValueError:
                    raise ValueError(f"connection '{conn_id}': extra settings must be a JSON object") from None
            if not isinstance(value, dict):
                raise ValueError(f"connection '{conn_id}': extra settings must be an object of ClickHouse settings")
            lifted = sorted(k for k in value if str(k).lower() in UNSAFE_SETTINGS)
            if lifted:
                raise ValueError(
                    f"connection '{conn_id}': extra settings {', '.join(lifted)} would lift the checks' "
                    "read-only guard or time limit (the checks set them on every query): remove them"
                )
            out["settings"] = dict(value)
        elif key in ("round_robin", "settings_is_important", "tcp_keepalive"):
            out[key] = flag(value, False) if not isinstance(value, (list, tuple)) else value
        elif key in ("compress_block_size",):
            out[key] = int(value)  # type: ignore[arg-type]  # validated above: a number
        elif key in ("sync_request_timeout",):
            out[key] = float(value)  # type: ignore[arg-type]  # validated above: a number
        elif key == "compression":
            out[key] = (
                value
                if isinstance(value, bool)
                else (flag(value, False) if str(value).lower() in ("true", "false", "1", "0") else str(value))
            )
        else:
            out[key] = value if not isinstance(value, (int, float)) else str(value)
    return out
