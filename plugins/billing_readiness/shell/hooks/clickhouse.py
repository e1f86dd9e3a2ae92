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

import re
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from airflow.providers.common.sql.hooks.sql import DbApiHook

from billing_readiness.core.errors import CheckError, ServiceUnavailable
from billing_readiness.core.sql import Query
from billing_readiness.shell import clickhouse_connection as conn_rules
from billing_readiness.shell.hooks.connections import get_connection


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
UNSAFE_SETTINGS = {"readonly", "allow_ddl", "allow_introspection_functions"}  # what would lift the read-only guard


def _network_errors():
    from clickhouse_driver import errors

    return (errors.NetworkError, errors.SocketTimeoutError, EOFError, OSError)


def _tls_failure(exc: BaseException) -> str | None:
    """The TLS error behind a network error (a certificate that does not verify: permanent, not retried)."""
    import ssl

    text = str(exc)  # clickhouse-driver re-raises the ssl error as a NetworkError with only its message
    tls = isinstance(exc, ssl.SSLError) or "CERTIFICATE_VERIFY_FAILED" in text or "[SSL" in text
    return text[:200] if tls else None


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
        applied = {r["name"]: str(r["value"]) for r in rows}
        for name, value in wanted.items():
            got = applied.get(name)
            if got == str(value) or (name == "readonly" and got == "1"):  # readonly=1 is stricter than 2
                continue
            self._unapplied[name] = "not a setting of this server" if got is None else got

    def unapplied_guards(self) -> list[str]:
        """The server-side guards this connection asked for and the server does not apply, and what holds
        instead (empty when every one applies)."""
        out = []
        for name, got in sorted(self._unapplied.items()):
            asked = self.wanted_settings()[name]
            holds = (
                "the client-side deadline cancels a query after it"
                if name == "max_execution_time"
                else "the profile's own value holds"
            )
            out.append(f"{name}={asked} not applied (the server keeps {got}; {holds})")
        return out

    @staticmethod
    def _refuse_unsafe_settings(query: Query) -> None:
        lifted = sorted(k for k in query.settings if k.lower() in UNSAFE_SETTINGS)
        if lifted:
            raise CheckError(
                f"the query '{query.name}' asks for setting(s) {', '.join(lifted)}: the checks only read, "
                "and no query may lift readonly"
            )

    def _arm(self, client, query: Query, cap: float | None = None) -> float:
        """Cut the client's socket timeouts to what is left of the budget (and to `cap`); the seconds this query
        may take."""
        allowed = float(self.query_timeout_seconds) + 5 if cap is None else float(cap)
        if self.deadline is not None:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise ClickHouseQueryError(
                    f"ClickHouse at {self.describe()} (connection '{self.clickhouse_conn_id}'): the check's time "
                    f"budget of {self.budget_seconds:.0f} s (config clickhouse.check_budget_seconds) is spent "
                    f"before the query '{query.name}'"
                )
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
                raise ClickHouseQueryError(
                    f"ClickHouse at {self.describe()} (connection '{self.clickhouse_conn_id}'): the query "
                    f"'{query.name}' ran past {allowed:.0f} s and was cancelled (config "
                    "clickhouse.query_timeout_seconds / check_budget_seconds)"
                )
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
            return self._run_on_each_server(query)

    def _run(self, query: Query, client=None, count: bool = True, cap: float | None = None) -> list[dict[str, Any]]:
        from clickhouse_driver import errors

        self._refuse_unsafe_settings(query)
        client = client or self.client()
        if self._settings_refused and query.settings:
            query = _without_settings(query)
        self.queries_sent += count
        try:
            (rows, columns), _ = self._execute(client, query, with_column_types=True, cap=cap)
        except errors.SocketTimeoutError as exc:
            raise self._silent(query, exc, cap) from None
        except errors.ServerException as exc:
            first = server_text(exc.message) if exc.message else str(exc)
            if exc.code in ACCESS_ERRORS or (
                exc.code == UNKNOWN_DATABASE and f"Database {self.database} " in first.replace("`", "")
            ):
                raise ClickHouseQueryError(
                    f"ClickHouse at {self.describe()} refused connection '{self.clickhouse_conn_id}': {first[:300]}. "
                    f"Fix the login, password or database of Airflow connection '{self.clickhouse_conn_id}', or "
                    "the user's grants (it needs SELECT on the billing tables and system.mutations).",
                    exc.code,
                ) from None
            raise ClickHouseQueryError(
                f"ClickHouse ({self.describe()}, connection '{self.clickhouse_conn_id}') rejected the query "
                f"'{query.name}': {first} -- SQL: {query.render()}",
                exc.code,
            ) from None
        except _network_errors() as exc:
            if not self._answered and isinstance(exc, EOFError):
                refused = self._database_refused()
                if refused:
                    raise refused from None
            tls = _tls_failure(exc)
            if tls:
                raise ClickHouseQueryError(
                    f"ClickHouse at {self.describe()}: the TLS handshake of connection '{self.clickhouse_conn_id}' "
                    f"failed ({tls}). Set its extra ca_certs to the CA file that signed the server's certificate "
                    "(server_hostname if the certificate names another host), or secure=false on the plain "
                    "native port"
                ) from None
            raise self._unavailable(query, exc) from exc
        self._answered = True
        return query.named_rows([name for name, _ in columns], rows)

    def _run_on_each_server(self, query: Query) -> list[dict[str, Any]]:
        """`query.local_sql` on every server of the cluster (system.clusters), one native connection each with
        this connection's credentials: how a profile that forbids table functions (readonly=1) reads every
        shard's system tables. The rows of all servers, in server order."""
        cluster = query.params["cluster"]
        servers = self._run(
            Query(
                f"the servers of cluster {cluster} (system.clusters)",
                "SELECT DISTINCT host_name, port FROM system.clusters WHERE cluster = %(cluster)s "
                "ORDER BY host_name, port",
                {"cluster": cluster},
                columns=("host_name", "port"),
            )
        )
        if not servers:
            raise ClickHouseQueryError(
                f"ClickHouse at {self.describe()} knows no cluster '{cluster}' in "
                "system.clusters: check config 'clickhouse.cluster'"
            )
        local = Query(
            query.name, query.local_sql or query.sql, query.params, query.settings, query.columns, query.source
        )
        rows: list[dict[str, Any]] = []
        for server in servers:
            where = f"{server['host_name']}:{server['port']}"
            client = self.new_client(server["host_name"], int(server["port"]))
            try:
                rows += self._run(local, client)
            except (ClickHouseQueryError, ClickHouseUnavailable) as exc:
                raise type(exc)(
                    f"{exc} [server {where} of cluster '{cluster}', read directly because the "
                    "profile forbids table functions: the worker must reach every server's native "
                    "port]"
                ) from None
            finally:
                client.disconnect()
        return rows

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
        return ClickHouseQueryError(
            f"ClickHouse at {self.describe()} refused connection '{self.clickhouse_conn_id}' the database "
            f"'{self.database}': the user logs in but may not use it. Fix the schema of Airflow connection "
            f"'{self.clickhouse_conn_id}' or the user's allowed databases / grants."
        )

    def _silent(self, query: Query, exc: BaseException, cap: float | None = None) -> ClickHouseQueryError:
        """A server that took the connection and then went silent (frozen, overloaded): retrying in 30 s
        would wait as long again, so this fails the check now, within its budget."""
        if cap is not None:
            return ClickHouseQueryError(
                f"ClickHouse at {self.describe()} (connection '{self.clickhouse_conn_id}') stopped answering: a "
                f"trivial first query got no reply within {cap:g} s (config clickhouse.liveness_timeout_seconds); "
                "the server is frozen or overloaded"
            )
        return ClickHouseQueryError(
            f"ClickHouse at {self.describe()} (connection '{self.clickhouse_conn_id}') stopped answering during "
            f"'{query.name}' (no reply within the socket timeout: {exc}); the server is frozen or overloaded"
        )

    def _unavailable(self, query: Query, exc: BaseException) -> ClickHouseUnavailable:
        return ClickHouseUnavailable(
            f"ClickHouse at {self.describe()} (connection '{self.clickhouse_conn_id}') is unreachable "
            f"while running '{query.name}': {type(exc).__name__}: {exc}"
        )

    def run_all(self, queries: dict[str, Query]) -> dict[str, list[dict[str, Any]]]:
        return {key: self.fetch(q) for key, q in queries.items()}

    def time_loads(self, queries: list[Query], repetitions: int, warmups: int = 1) -> list[dict[str, Any]]:
        """Run `queries` concurrently (one connection each, as a dashboard does), warmups + repetitions times.

        A load's time is from the start until the last query returns. Per query: wall time, ClickHouse's
        rows and bytes read (progress packets), rows returned, or the error the server gave. A connection
        lost while timing is no panel error: it raises ClickHouseUnavailable (transient).
        """
        from clickhouse_driver import errors

        for q in queries:
            self._refuse_unsafe_settings(q)
        self.client()  # which settings the server applies, before the timed clients are made
        queries = [_without_settings(q) if self._settings_refused and q.settings else q for q in queries]
        clients = [self.new_client() for _ in queries]

        def one(i: int) -> dict[str, Any]:
            q, client = queries[i], clients[i]
            started = time.perf_counter()
            self.queries_sent += 1
            try:
                rows, _ = self._execute(client, q, with_column_types=False)
                progress = client.last_query.progress
                return {
                    "title": q.name,
                    "elapsed_s": time.perf_counter() - started,
                    "rows_read": int(progress.rows),
                    "bytes_read": int(progress.bytes),
                    "result_rows": len(rows),
                    "error": None,
                }
            except errors.SocketTimeoutError as exc:
                raise self._silent(q, exc) from None
            except _network_errors() as exc:
                raise self._unavailable(q, exc) from exc
            except ClickHouseQueryError as exc:  # cancelled past its time: the panel's error
                return {"title": q.name, "elapsed_s": time.perf_counter() - started, "error": str(exc)[:300]}
            except errors.Error as exc:  # the server's first line only, cut short: never the panel's data
                msg = getattr(exc, "message", None) or str(exc)
                return {
                    "title": q.name,
                    "elapsed_s": time.perf_counter() - started,
                    "error": (msg.splitlines() or [""])[0][:300],
                }

        loads = []
        try:
            with ThreadPoolExecutor(max_workers=len(queries)) as pool:
                for n in range(warmups + repetitions):
                    started = time.perf_counter()
                    runs = list(pool.map(one, range(len(queries))))
                    failed = any(r.get("error") for r in runs)
                    if n >= warmups or failed:
                        loads.append({"load_s": time.perf_counter() - started, "panels": runs})
                    if failed:  # a panel that failed (or timed out) once is reported, not run again
                        break
        finally:
            for client in clients:
                client.disconnect()
        return loads


def _without_settings(query: Query) -> Query:
    """The query without its own settings: the profile forbids them (readonly=1); the guards they carried are
    the profile's then (ClickHouseHook.unapplied_guards)."""
    import dataclasses

    return dataclasses.replace(query, settings={})
