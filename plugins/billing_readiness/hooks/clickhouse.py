"""ClickHouse over the native protocol (clickhouse-driver), from an Airflow Connection, read-only.

Every query runs with readonly=2 (reads and per-query settings only: a write
fails on the server) and a max_execution_time. Network trouble raises
ClickHouseUnavailable (transient: Airflow retries the task); a query the server
rejects raises ClickHouseQueryError with the query, so the check fails at once.
Rows come back as dicts by column name, checked against the columns the query declares.
"""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from airflow.sdk import BaseHook

from billing_readiness.errors import CheckError, ServiceUnavailable
from billing_readiness.hooks.connections import get_connection
from billing_readiness.sql import Query


class ClickHouseUnavailable(ServiceUnavailable):
    """ClickHouse could not be reached or dropped the connection: worth a retry."""


class ClickHouseQueryError(CheckError):
    """ClickHouse rejected a check query (missing table or column, syntax): not worth a retry."""


UNSAFE_SETTINGS = {"readonly", "allow_ddl", "allow_introspection_functions"}  # what would lift the read-only guard


def _network_errors():
    from clickhouse_driver import errors

    return (errors.NetworkError, errors.SocketTimeoutError, EOFError, OSError)


class ClickHouseHook(BaseHook):
    conn_name_attr = "clickhouse_conn_id"
    default_conn_name = "clickhouse_default"
    conn_type = "clickhouse"
    hook_name = "ClickHouse"

    def __init__(self, clickhouse_conn_id: str = default_conn_name, query_timeout_seconds: int = 120,
                 settings: dict[str, Any] | None = None):
        super().__init__()
        self.clickhouse_conn_id = clickhouse_conn_id
        self.query_timeout_seconds = query_timeout_seconds
        self.settings = dict(settings or {})  # on every query (sql.memory_settings), under the query's own
        self.queries_sent = 0
        self._conn = None
        self._client = None

    def _connection(self):
        if self._conn is None:
            self._conn = get_connection(self.clickhouse_conn_id, "clickhouse", "the ClickHouse checks")
        return self._conn

    @property
    def database(self) -> str:
        return self._connection().schema or "default"

    def source_id(self) -> str:
        """The billed system as configured: connection id and database (not the host: a replica is the same data)."""
        return f"{self.clickhouse_conn_id}/{self.database}"

    def describe(self) -> str:
        c = self._connection()
        return f"{c.host}:{c.port or 9000}/{self.database}"

    def new_client(self):
        """A new clickhouse-driver Client (one per thread: a Client is not thread-safe)."""
        from clickhouse_driver import Client

        c = self._connection()
        extra = c.extra_dejson
        return Client(
            host=c.host or "localhost",
            port=int(c.port or (9440 if extra.get("secure") else 9000)),
            user=c.login or "default",
            password=c.password or "",
            database=self.database,
            secure=bool(extra.get("secure", False)),
            verify=bool(extra.get("verify", True)),
            connect_timeout=float(extra.get("connect_timeout", 10)),
            send_receive_timeout=float(extra.get("send_receive_timeout", self.query_timeout_seconds + 30)),
            client_name="billing-readiness",
            settings={**self.settings, "readonly": 2, "max_execution_time": self.query_timeout_seconds},
        )

    def get_conn(self):
        if self._client is None:
            self._client = self.new_client()
        return self._client

    @staticmethod
    def _refuse_unsafe_settings(query: Query) -> None:
        lifted = sorted(k for k in query.settings if k.lower() in UNSAFE_SETTINGS)
        if lifted:
            raise CheckError(f"the query '{query.name}' asks for setting(s) {', '.join(lifted)}: the checks only read, "
                             "and no query may lift readonly")

    def run(self, query: Query, client=None) -> list[dict[str, Any]]:
        """The query's rows as dicts by column name (its declared columns checked)."""
        from clickhouse_driver import errors

        self._refuse_unsafe_settings(query)
        client = client or self.get_conn()
        self.queries_sent += 1
        try:
            rows, columns = client.execute(query.sql, query.params or None, settings=query.settings or None,
                                           with_column_types=True)
        except errors.ServerException as exc:
            raise ClickHouseQueryError(
                f"ClickHouse ({self.describe()}) rejected the query '{query.name}': "
                f"{exc.message.splitlines()[0] if exc.message else exc} -- SQL: {query.render()}"
            ) from None
        except _network_errors() as exc:
            raise self._unavailable(query, exc) from exc
        return query.named_rows([name for name, _ in columns], rows)

    def _unavailable(self, query: Query, exc: BaseException) -> ClickHouseUnavailable:
        return ClickHouseUnavailable(
            f"ClickHouse at {self.describe()} (connection '{self.clickhouse_conn_id}') is unreachable "
            f"while running '{query.name}': {type(exc).__name__}: {exc}"
        )

    def run_all(self, queries: dict[str, Query]) -> dict[str, list[dict[str, Any]]]:
        return {key: self.run(q) for key, q in queries.items()}

    def time_loads(self, queries: list[Query], repetitions: int, warmups: int = 1) -> list[dict[str, Any]]:
        """Run `queries` concurrently (one connection each, as a dashboard does), warmups + repetitions times.

        A load's time is from the start until the last query returns. Per query: wall time, ClickHouse's
        rows and bytes read (progress packets), rows returned, or the error the server gave. A connection
        lost while timing is no panel error: it raises ClickHouseUnavailable (transient).
        """
        from clickhouse_driver import errors

        for q in queries:
            self._refuse_unsafe_settings(q)
        clients = [self.new_client() for _ in queries]

        def one(i: int) -> dict[str, Any]:
            q, client = queries[i], clients[i]
            started = time.perf_counter()
            self.queries_sent += 1
            try:
                rows = client.execute(q.sql, q.params or None, settings=q.settings or None)
                progress = client.last_query.progress
                return {
                    "title": q.name,
                    "elapsed_s": time.perf_counter() - started,
                    "rows_read": int(progress.rows),
                    "bytes_read": int(progress.bytes),
                    "result_rows": len(rows),
                    "error": None,
                }
            except _network_errors() as exc:
                raise self._unavailable(q, exc) from exc
            except errors.Error as exc:
                msg = getattr(exc, "message", None) or str(exc)
                return {"title": q.name, "elapsed_s": time.perf_counter() - started, "error": msg.splitlines()[0]}

        loads = []
        try:
            with ThreadPoolExecutor(max_workers=len(queries)) as pool:
                for n in range(warmups + repetitions):
                    started = time.perf_counter()
                    runs = list(pool.map(one, range(len(queries))))
                    if n >= warmups:
                        loads.append({"load_s": time.perf_counter() - started, "panels": runs})
        finally:
            for client in clients:
                client.disconnect()
        return loads
