"""ClickHouse over the native protocol (clickhouse-driver), from an Airflow Connection, read-only.

Every query asks for readonly=2 (reads and per-query settings only: a write
fails on the server) and a max_execution_time. The first query of a connection reads back which of these the
server applies: a profile with readonly=1 forbids every per-query setting (18.16 drops them silently, current
ClickHouse refuses them), so the hook then sends none and says which server-side guards are the profile's
(unapplied_guards). The client keeps its own deadline whatever the server does: a query still running past its
timeout is cancelled, a server that stops answering fails the check
once the socket timeout passes, and every socket wait is cut to what is left of the check's time budget
(config clickhouse.check_budget_seconds). A refused connection raises ClickHouseUnavailable (transient:
Airflow retries the task); a query the server rejects, wrong credentials, a server that accepted the
connection and went silent, or a spent budget raise ClickHouseQueryError naming the connection.
Rows come back as dicts by column name, checked against the columns the query declares.

It is a common.sql DbApiHook too (clickhouse_driver.dbapi, the same driver and settings): get_records,
get_first, run(sql) and test_connection work, so SQLCheckOperator, SQLValueCheckOperator,
SQLColumnCheckOperator and SQLTableCheckOperator run on the same connection beside the readiness checks.
`run(Query)` is the checks' own read (the guards, the deadline, the error texts); `run(sql, ...)` is DbApiHook's.
"""

from __future__ import annotations

import time
from typing import Any

from airflow.providers.common.sql.hooks.sql import DbApiHook

from billing_readiness.core.errors import CheckError
from billing_readiness.core.sql import Query
from billing_readiness.shell import clickhouse_connection as conn_rules
from billing_readiness.shell.hooks import clickhouse_errors as errs
from billing_readiness.shell.hooks import clickhouse_guards as guards
from billing_readiness.shell.hooks.clickhouse_errors import READONLY, ClickHouseQueryError
from billing_readiness.shell.hooks.clickhouse_errors import ClickHouseUnavailable as ClickHouseUnavailable
from billing_readiness.shell.hooks.connections import get_connection


class ClickHouseHook(DbApiHook):
    conn_name_attr = "clickhouse_conn_id"
    default_conn_name = conn_rules.DEFAULT_CONN_ID
    conn_type = conn_rules.CONN_TYPE  # not "clickhouse": that is the official provider's HTTP connection
    hook_name = "ClickHouse (native protocol)"
    supports_autocommit = False  # ClickHouse has no transactions
    _test_connection_sql = "SELECT 1"

    # The connection form (fields, labels) is declared in provider_info.py, as Airflow 3 reads it.

    def __init__(
        self,
        clickhouse_conn_id: str = default_conn_name,
        query_timeout_seconds: int = 120,
        settings: dict[str, Any] | None = None,
        budget_seconds: float | None = None,
        liveness_seconds: float | None = None,
        **kwargs: Any,
    ):
        super().__init__(clickhouse_conn_id=clickhouse_conn_id, **kwargs)
        # The first, trivial query of a connection must answer within this: a frozen server fails a check in
        # seconds, not after a whole query timeout (config clickhouse.liveness_timeout_seconds).
        self.liveness_seconds = min(liveness_seconds, query_timeout_seconds + 5) if liveness_seconds else None
        self.budget_seconds = budget_seconds
        self.deadline = time.monotonic() + budget_seconds if budget_seconds else None
        self.clickhouse_conn_id = clickhouse_conn_id
        self.query_timeout_seconds = query_timeout_seconds
        self.settings = dict(settings or {})  # on every query (sql.memory_settings), under the query's own
        self.queries_sent = 0
        self._answered = False  # no query has come back yet: a hang-up may be a refused login
        self._conn_record = None
        self._client = None
        self._socket_timeouts: tuple[float, float] | None = None
        self._settings_refused = False  # the profile forbids per-query settings (readonly=1 on current servers)
        self._unapplied: dict[str, str] = {}  # setting -> what the server applies instead

    def _airflow_conn(self):
        """The Airflow Connection, checked once: a type or port that is not the native protocol is refused."""
        if self._conn_record is None:
            conn = get_connection(self.clickhouse_conn_id, "clickhouse", "the ClickHouse checks")
            why = conn_rules.refusal(self.clickhouse_conn_id, conn.conn_type, conn.port, conn.extra_dejson)
            if why:
                raise CheckError(why)
            self._conn_record = conn
        return self._conn_record

    @property
    def database(self) -> str:
        return self._airflow_conn().schema or "default"

    def source_id(self) -> str:
        """The billed system as configured: connection id and database (not the host: a replica is the same data)."""
        return f"{self.clickhouse_conn_id}/{self.database}"

    def describe(self) -> str:
        c = self._airflow_conn()
        try:
            secure = conn_rules.flag(conn_rules.extras(c.extra_dejson).get("secure"), False)
        except ValueError:
            secure = False
        return f"{c.host}:{c.port or (9440 if secure else 9000)}/{self.database}"

    def _who(self) -> tuple[str, str]:
        """(connection id, host:port/database) for an error message: read only when something went wrong."""
        return self.clickhouse_conn_id, self.describe()

    def socket_timeouts(self) -> tuple[float, float]:
        """(connect, send/receive) seconds: the connection's extras, else 10 s and the query timeout + 30 s; read
        once."""
        if self._socket_timeouts is None:
            try:
                self._socket_timeouts = conn_rules.timeouts(
                    self._airflow_conn().extra_dejson, self.query_timeout_seconds
                )
            except (TypeError, ValueError) as exc:
                raise CheckError(f"connection '{self.clickhouse_conn_id}': extra {exc}") from None
        return self._socket_timeouts

    def wanted_settings(self) -> dict[str, Any]:
        """What every query asks the server for: the memory settings, readonly=2 and the time limit."""
        return {**self.settings, "readonly": 2, "max_execution_time": self.query_timeout_seconds}

    def client_kwargs(self, host: str | None = None, port: int | None = None) -> dict[str, Any]:
        """clickhouse-driver arguments: the connection's (extras passed through) with the checks' settings on top."""
        c = self._airflow_conn()
        try:
            kwargs = conn_rules.client_kwargs(
                self.clickhouse_conn_id,
                host or c.host,
                port or c.port,
                c.login,
                c.password,
                self.database,
                c.extra_dejson,
                self.query_timeout_seconds,
            )
        except ValueError as exc:
            raise CheckError(str(exc)) from None
        kwargs.setdefault("client_name", "billing-readiness")
        wanted = {} if self._settings_refused else self.wanted_settings()
        kwargs["settings"] = {**kwargs.get("settings", {}), **wanted}  # the checks' guards win
        return kwargs

    def new_client(self, host: str | None = None, port: int | None = None):
        """A new clickhouse-driver Client (one per thread: a Client is not thread-safe); `host`/`port`: another
        server of the cluster, with the same credentials."""
        from clickhouse_driver import Client

        return Client(**self.client_kwargs(host, port))

    def client(self):
        """The checks' native client, created once (with the read-back of the settings the server applies)."""
        if self._client is None:
            self._client = self.new_client()
            self._probe_guards()
        return self._client

    def get_conn(self):
        """A DB-API connection (clickhouse_driver.dbapi) with the same arguments and guards, for common.sql."""
        from clickhouse_driver import dbapi

        self.client()  # which settings the server applies (readonly=1 refuses them on current servers)
        kwargs = self.client_kwargs()
        # a hung server fails a DB-API query too: no socket wait longer than the query's own limit
        kwargs["send_receive_timeout"] = min(kwargs["send_receive_timeout"], self.query_timeout_seconds + 5)
        return dbapi.connect(**kwargs)

    def _probe_guards(self) -> None:
        """Read back which of the wanted settings the server applies (once per connection)."""
        wanted = self.wanted_settings()
        probe = Query(
            "the settings the server applies (system.settings)",
            "SELECT name, value FROM system.settings WHERE name IN %(names)s",
            {"names": tuple(sorted(wanted))},
            columns=("name", "value"),
        )
        try:
            rows = self._run(probe, count=False, cap=self.liveness_seconds)
        except ClickHouseQueryError as exc:
            if exc.code != READONLY:
                raise
            self._settings_refused = True  # readonly=1 on a current server: no setting may travel
            self._client = self.new_client()
            rows = self._run(probe, count=False, cap=self.liveness_seconds)
        self._unapplied = guards.unapplied(wanted, {r["name"]: str(r["value"]) for r in rows})

    def unapplied_guards(self) -> list[str]:
        """The server-side guards this connection asked for and the server does not apply, and what holds
        instead (empty when every one applies)."""
        return guards.describe(self.wanted_settings(), self._unapplied)

    @staticmethod
    def _refuse_unsafe_settings(query: Query) -> None:
        refusal = guards.unsafe_settings(query)
        if refusal:
            raise refusal

    def _arm(self, client, query: Query, cap: float | None = None) -> float:
        """Cut the client's socket timeouts to what is left of the budget (and to `cap`); the seconds this query
        may take."""
        allowed = float(self.query_timeout_seconds) + 5 if cap is None else float(cap)
        if self.deadline is not None:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise errs.budget_spent(*self._who(), self.budget_seconds or 0, query)
            allowed = min(allowed, left)
        conn = client.connection
        connect_timeout, send_receive_timeout = self.socket_timeouts()
        conn.send_receive_timeout = min(send_receive_timeout, allowed + 1)
        conn.connect_timeout = min(connect_timeout, allowed + 1)
        if getattr(conn, "socket", None) is not None and conn.connected:
            conn.socket.settimeout(conn.send_receive_timeout)
        return allowed

    def _execute(self, client, query: Query, with_column_types: bool, cap: float | None = None):
        """Run `query`, cancelling it once it runs past its allowed time (a SETTINGS clause or a server
        profile may have lifted max_execution_time; the client's deadline holds anyway)."""
        allowed = self._arm(client, query, cap)
        started = time.monotonic()
        progress = client.execute_with_progress(
            query.sql, query.params or None, settings=query.settings or None, with_column_types=with_column_types
        )
        for _ in progress:
            if time.monotonic() - started > allowed:
                client.cancel()
                client.disconnect()
                raise errs.cancelled(*self._who(), query, allowed)
        return progress.get_result(), progress

    def run(self, sql, *args, **kwargs):
        """The checks' read for a Query (fetch), DbApiHook's run for SQL text (common.sql operators)."""
        if isinstance(sql, Query):
            return self.fetch(sql, *args, **kwargs)
        return super().run(sql, *args, **kwargs)

    def fetch(self, query: Query, client=None, count: bool = True) -> list[dict[str, Any]]:
        """The query's rows as dicts by column name (its declared columns checked). A query of every server's
        system table (`query.local_sql`) whose cluster() read the profile forbids is read server by server."""
        try:
            return self._run(query, client, count)
        except ClickHouseQueryError as exc:
            if exc.code != READONLY or not query.local_sql or client is not None:
                raise
            from billing_readiness.shell.hooks.clickhouse_servers import read_each_server

            return read_each_server(self, query)

    def _run(self, query: Query, client=None, count: bool = True, cap: float | None = None) -> list[dict[str, Any]]:
        from clickhouse_driver import errors

        self._refuse_unsafe_settings(query)
        client = client or self.client()
        if self._settings_refused and query.settings:
            query = query.without_settings()
        self.queries_sent += count
        try:
            (rows, columns), _ = self._execute(client, query, with_column_types=True, cap=cap)
        except errors.SocketTimeoutError as exc:
            raise errs.silent(*self._who(), query, exc, cap) from None
        except errors.ServerException as exc:
            raise errs.server_refusal(*self._who(), self.database, query, exc) from None
        except errs.network_errors() as exc:
            if not self._answered and isinstance(exc, EOFError):
                refused = self._database_refused()
                if refused:
                    raise refused from None
            tls = errs.tls_failure(exc)
            if tls:
                raise errs.tls_refusal(*self._who(), tls) from None
            raise errs.unavailable(*self._who(), query, exc) from exc
        self._answered = True
        return query.named_rows([name for name, _ in columns], rows)

    def _database_refused(self) -> ClickHouseQueryError | None:
        """Older servers (18.16) hang up on a login whose user may not use the connection's database instead
        of saying so: when the same login to `system` works, that is what happened (permanent, not a
        network blip to retry)."""
        from clickhouse_driver import errors

        probe = self.new_client()
        probe.connection.database = "system"
        try:
            probe.execute("SELECT 1")
        except (errors.Error, EOFError, OSError):
            return None
        finally:
            probe.disconnect()
        return errs.database_refused(self.clickhouse_conn_id, self.describe(), self.database)

    def run_all(self, queries: dict[str, Query]) -> dict[str, list[dict[str, Any]]]:
        return {key: self.fetch(q) for key, q in queries.items()}

    def time_loads(self, queries: list[Query], repetitions: int, warmups: int = 1) -> list[dict[str, Any]]:
        """`queries` run concurrently as a dashboard load, warmups + repetitions times (clickhouse_loads)."""
        from billing_readiness.shell.hooks.clickhouse_loads import time_loads

        return time_loads(self, queries, repetitions, warmups)
