"""Check SQL as data: a named query with client-side parameters and the columns it must return.

Identifiers come only from the validated config; values always travel as
`%(name)s` parameters. The SQL stays in the subset that Debian's ClickHouse
18.16 and current ClickHouse both accept (no TTL, no {name:Type} parameters):
epochs instead of DateTime literals, explicit 'UTC' in date functions.
Rows are read by column name: a query (above all a user's configured one) whose
columns differ from what the check needs fails with the missing and extra names.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any

from billing_readiness.core.errors import CheckError


@dataclass(frozen=True)
class Query:
    name: str  # what it fetches, e.g. "raw usage by tenant, day and type"
    sql: str
    params: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    columns: tuple[str, ...] = ()  # the names the check reads; () = not checked (dashboard panels)
    source: str = ""  # where the SQL comes from when it is the user's, e.g. "config key 'invoice.sql'"
    # The same question of one server's own system table, for a cluster read (params["cluster"]) that a profile
    # forbidding table functions refuses: the hook then asks every server of the cluster directly.
    local_sql: str | None = None

    def without_settings(self) -> Query:
        """The query without its own settings: the profile forbids them (readonly=1); the guards they carried
        are the profile's then (the hook's unapplied_guards)."""
        return dataclasses.replace(self, settings={})

    def render(self) -> str:
        """The SQL with parameters substituted as clickhouse-driver does (for logs, reports and chdb)."""
        from clickhouse_driver.util.escape import escape_param

        if not self.params:
            return self.sql
        return self.sql % {k: escape_param(v, None) for k, v in self.params.items()}

    def named_rows(self, names: list[str], rows: list[tuple]) -> list[dict[str, Any]]:
        """`rows` as dicts by column name, after checking the names are exactly `columns` (in any order)."""
        if self.columns and set(names) != set(self.columns):
            missing = [c for c in self.columns if c not in names]
            extra = [c for c in names if c not in self.columns]
            where = self.source or f"the query '{self.name}'"
            problem = "; ".join(
                part
                for part in (
                    f"missing column(s) {', '.join(missing)}" if missing else "",
                    f"unexpected column(s) {', '.join(extra)}" if extra else "",
                )
                if part
            )
            raise CheckError(
                f"{where} returns columns ({', '.join(names)}) but the check reads ({', '.join(self.columns)}): "
                f"{problem}. Name each column with AS."
            )
        return [dict(zip(names, row)) for row in rows]


def memory_settings(cfg: dict) -> dict[str, Any]:
    """Settings every check query carries so that, at any scale, it stays under the configured memory:
    aggregations and sorts spill to disk past half the limit, and a distributed GROUP BY merges the shards'
    results bucket by bucket. A query's own settings take precedence."""
    limit = cfg["clickhouse"]["max_memory_bytes"]
    if limit is None:
        return {}
    return {
        "max_memory_usage": int(limit),
        "max_bytes_before_external_group_by": int(limit) // 2,
        "max_bytes_before_external_sort": int(limit) // 2,
        "distributed_aggregation_memory_efficient": 1,
    }


def active_tenants_query(cfg: dict) -> Query:
    """Active tenants: the configured SELECT, or every tenant with a plan in tenant_quotas."""
    if cfg["active_tenants_sql"]:
        return Query(
            "active tenants (configured)",
            cfg["active_tenants_sql"],
            columns=("tenant_id",),
            source="config key 'active_tenants_sql'",
        )
    tq = cfg["tenant_quotas"]
    return Query(
        "active tenants (tenant_quotas)",
        f"SELECT DISTINCT {tq['tenant_id']} AS tenant_id FROM {tq['table']} ORDER BY tenant_id",
        columns=("tenant_id",),
    )


# Distributed(cluster, database, table[, sharding key]), quoted or not: the local table's database and name
DISTRIBUTED_DB = r"^Distributed\(\s*'?[^,']+'?\s*,\s*'?([^,')]+)'?\s*,"
DISTRIBUTED_CLUSTER = r"^Distributed\(\s*'?([^,']+)"
DISTRIBUTED_TABLE = r"^Distributed\(\s*'?[^,']+'?\s*,\s*'?[^,']+'?\s*,\s*'?([^,')]+)'?"


def _database(param: str, table: str) -> str:
    """The SQL for a configured table's database: its `<param>_db` parameter, or the connection's."""
    return f"%({param}_db)s" if "." in table else "currentDatabase()"


def configured_tables(tables: dict[str, str]) -> str:
    """system.tables rows of the configured tables. The leading `database IN` alone lets the server skip
    every other database (it reads each table's metadata otherwise: slow on a server with many)."""
    dbs = dict.fromkeys(_database(k, t) for k, t in tables.items())
    return (
        f"database IN ({', '.join(dbs)}) AND ("
        + " OR ".join(f"(database = {_database(k, t)} AND name = %({k})s)" for k, t in tables.items())
        + ")"
    )


def table_params(table: str, param: str) -> dict[str, str]:
    db, _, name = table.rpartition(".")
    return {param: name, **({f"{param}_db": db} if db else {})}


def zone_query(cfg: dict) -> Query:
    """The server's time zone and the type of the events' timestamp column (DateTime('Zone') names its own)."""
    ev = cfg["usage_events"]
    params = {**table_params(ev["table"], "events"), "ts": ev["timestamp"]}
    db = _database("events", ev["table"])
    return Query(
        "the server's time zone and the events' timestamp type (system.columns)",
        f"""SELECT timezone() AS server_timezone,
       (SELECT any(type) FROM system.columns WHERE database = {db} AND table = %(events)s AND name = %(ts)s)
           AS timestamp_type""",
        params,
        columns=("server_timezone", "timestamp_type"),
    )


_ZONED = re.compile(r"DateTime(?:64)?\((?:\d+\s*,\s*)?'([^']+)'\)")


def rollup_zone(rows: list[dict[str, Any]], cfg: dict) -> tuple[str, str]:
    """The zone the rollups' days and hours are cut in, and where that comes from: config
    'clickhouse.rollup_timezone', else the timestamp column's own zone, else the server's (what toDate() and
    toStartOfHour() without a zone argument use in the materialized views)."""
    from billing_readiness.core.timewindow import zone

    configured = cfg["clickhouse"]["rollup_timezone"]
    if configured:
        return configured, "config clickhouse.rollup_timezone"
    row = rows[0] if rows else {}
    m = _ZONED.search(str(row.get("timestamp_type") or ""))
    name, source = (
        (m.group(1), f"the column {cfg['usage_events']['timestamp']}'s own zone")
        if m
        else (str(row.get("server_timezone") or "UTC"), "the ClickHouse server's timezone()")
    )
    try:
        zone(name)
    except ValueError as exc:
        raise CheckError(
            f"the rollups' time zone, {source}, is unusable: {exc}. Set config "
            "'clickhouse.rollup_timezone' to the zone the materialized views use."
        ) from None
    return name, source
