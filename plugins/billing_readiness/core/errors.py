"""The one retry policy: which errors are worth a retry and which fail the check at once.

Plain Python (no Airflow import), so hooks, checks and tests share it. Only a
service that could not be reached (network level) is transient; everything else
is definite: retrying will not create a connection, fix a config key or change
the data. The check operator turns a definite error into AirflowFailException.
"""

from __future__ import annotations

import socket


class CheckError(Exception):
    """A definite failure of a check (bad config, missing connection, rejected query): no retry.

    The message names what to fix: the config key, the connection id, the param or the file."""


class ServiceUnavailable(Exception):
    """A service (ClickHouse, Redis, an HTTP API) could not be reached or dropped the connection: retry."""


_NETWORK = (ServiceUnavailable, ConnectionError, TimeoutError, socket.timeout, socket.gaierror, EOFError)


def _third_party_network_errors() -> tuple[type, ...]:
    """Network errors of the drivers, when they are installed (imported here only, never at DAG parse)."""
    found: list[type] = []
    try:
        from clickhouse_driver import errors as ch

        found += [ch.NetworkError, ch.SocketTimeoutError]
    except ImportError:  # pragma: no cover - the runtime always has it
        pass
    try:
        import redis

        found += [redis.ConnectionError, redis.TimeoutError]
    except ImportError:  # pragma: no cover
        pass
    try:
        import requests

        found += [requests.ConnectionError, requests.Timeout]
    except ImportError:  # pragma: no cover
        pass
    return tuple(found)


def is_transient(exc: BaseException) -> bool:
    """True only for network-level trouble: the task's retries cover it."""
    return isinstance(exc, _NETWORK) or isinstance(exc, _third_party_network_errors())


def error_text(exc: BaseException) -> str:
    """A one-line message for a failure: our own errors already name what to fix."""
    if isinstance(exc, (CheckError, ServiceUnavailable)):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
