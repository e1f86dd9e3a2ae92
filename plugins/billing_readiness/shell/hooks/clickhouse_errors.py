"""What goes wrong talking to ClickHouse, told the way the checks report it: which errors are worth a retry,
which server codes mean the connection's login or grants, and the messages that name what to fix."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from billing_readiness.core.errors import CheckError, ServiceUnavailable

if TYPE_CHECKING:
    from billing_readiness.core.sql import Query


class ClickHouseUnavailable(ServiceUnavailable):
    """ClickHouse could not be reached or dropped the connection: worth a retry."""


class ClickHouseQueryError(CheckError):
    """ClickHouse rejected a check query (missing table or column, syntax): not worth a retry."""

    def __init__(self, message: str, code: int | None = None):
        super().__init__(message)
        self.code = code  # the server's error code, when the server gave one


READONLY = 164  # "Cannot modify setting in readonly mode", "Table functions are forbidden in readonly mode"
# Where a cluster's error names the servers it could not reach: "Connection refused (127.0.0.1:19102)"
_HOST_PORT = re.compile(
    r"(Connection refused|Timeout exceeded[^(]*|Code: 2\d\d[^(]*|NetException[^(]*)"
    r"\(([\w.\-\[\]:]+:\d+)\)"
)


def server_text(message: str) -> str:
    """A server error as the checks report it: its first line, and every host:port it names as unreachable
    further down (a Distributed query's error names the failing shard only there)."""
    lines = (message or "").splitlines()
    first = lines[0] if lines else ""
    hosts = list(dict.fromkeys(m.group(2) for m in _HOST_PORT.finditer(message or "") if m.group(2) not in first))
    return first + (f" [unreachable: {', '.join(hosts)}]" if hosts else "")


# Server error codes that mean the connection's credentials or grants are wrong, not the query: UNKNOWN_USER,
# WRONG_PASSWORD, REQUIRED_PASSWORD, IP_ADDRESS_NOT_ALLOWED, DATABASE_ACCESS_DENIED, ACCESS_DENIED,
# AUTHENTICATION_FAILED; and UNKNOWN_DATABASE when it is the connection's schema.
ACCESS_ERRORS = {192, 193, 194, 195, 291, 497, 516}
UNKNOWN_DATABASE = 81


def network_errors():
    from clickhouse_driver import errors

    return (errors.NetworkError, errors.SocketTimeoutError, EOFError, OSError)


def tls_failure(exc: BaseException) -> str | None:
    """The TLS error behind a network error (a certificate that does not verify: permanent, not retried)."""
    import ssl

    text = str(exc)  # clickhouse-driver re-raises the ssl error as a NetworkError with only its message
    tls = isinstance(exc, ssl.SSLError) or "CERTIFICATE_VERIFY_FAILED" in text or "[SSL" in text
    return text[:200] if tls else None


def server_refusal(conn_id: str, where: str, database: str, query: Query, exc) -> ClickHouseQueryError:
    """A server's error for `query`: the connection's login or grants when the code says so, the query's
    otherwise (with its SQL)."""
    first = server_text(exc.message) if exc.message else str(exc)
    if exc.code in ACCESS_ERRORS or (
        exc.code == UNKNOWN_DATABASE and f"Database {database} " in first.replace("`", "")
    ):
        return ClickHouseQueryError(
            f"ClickHouse at {where} refused connection '{conn_id}': {first[:300]}. "
            f"Fix the login, password or database of Airflow connection '{conn_id}', or "
            "the user's grants (it needs SELECT on the billing tables and system.mutations).",
            exc.code,
        )
    return ClickHouseQueryError(
        f"ClickHouse ({where}, connection '{conn_id}') rejected the query '{query.name}': {first} -- SQL: "
        f"{query.render()}",
        exc.code,
    )


def tls_refusal(conn_id: str, where: str, tls: str) -> ClickHouseQueryError:
    return ClickHouseQueryError(
        f"ClickHouse at {where}: the TLS handshake of connection '{conn_id}' "
        f"failed ({tls}). Set its extra ca_certs to the CA file that signed the server's certificate "
        "(server_hostname if the certificate names another host), or secure=false on the plain "
        "native port"
    )


def database_refused(conn_id: str, where: str, database: str) -> ClickHouseQueryError:
    return ClickHouseQueryError(
        f"ClickHouse at {where} refused connection '{conn_id}' the database "
        f"'{database}': the user logs in but may not use it. Fix the schema of Airflow connection "
        f"'{conn_id}' or the user's allowed databases / grants."
    )


def _at(conn_id: str, where: str) -> str:
    return f"ClickHouse at {where} (connection '{conn_id}')"


def silent(
    conn_id: str, where: str, query: Query, exc: BaseException, cap: float | None = None
) -> ClickHouseQueryError:
    """A server that took the connection and then went silent (frozen, overloaded): retrying in 30 s
    would wait as long again, so this fails the check now, within its budget."""
    if cap is not None:
        return ClickHouseQueryError(
            _at(conn_id, where) + f" stopped answering: a "
            f"trivial first query got no reply within {cap:g} s (config clickhouse.liveness_timeout_seconds); "
            "the server is frozen or overloaded"
        )
    return ClickHouseQueryError(
        _at(conn_id, where) + f" stopped answering during "
        f"'{query.name}' (no reply within the socket timeout: {exc}); the server is frozen or overloaded"
    )


def unavailable(conn_id: str, where: str, query: Query, exc: BaseException) -> ClickHouseUnavailable:
    return ClickHouseUnavailable(
        _at(conn_id, where) + f" is unreachable while running '{query.name}': {type(exc).__name__}: {exc}"
    )


def budget_spent(conn_id: str, where: str, budget_seconds: float, query: Query) -> ClickHouseQueryError:
    return ClickHouseQueryError(
        _at(conn_id, where) + f": the check's time "
        f"budget of {budget_seconds:.0f} s (config clickhouse.check_budget_seconds) is spent "
        f"before the query '{query.name}'"
    )


def cancelled(conn_id: str, where: str, query: Query, allowed: float) -> ClickHouseQueryError:
    return ClickHouseQueryError(
        _at(conn_id, where) + f": the query "
        f"'{query.name}' ran past {allowed:.0f} s and was cancelled (config "
        "clickhouse.query_timeout_seconds / check_budget_seconds)"
    )
