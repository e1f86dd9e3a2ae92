"""Check 2's SQL: the closed month's invoice totals (twice from usage_events, once from usage_daily), the rows
ingested after the month closed, and the mutations recorded on the billing tables since the month began."""
from __future__ import annotations

from billing_readiness.money import NANOS_SQL
from billing_readiness.sql import Query, active_tenants_query
from billing_readiness.timewindow import Month, epoch

INVOICE_COLUMNS = ("tenant_id", "total_queries", "total_tokens", "cost_nanos")  # what invoice.sql must return


def _table_match(table: str, param: str) -> str:
    """A system.mutations condition for one configured table ([db.]name), with its name as parameter `param`."""
    database = f"%({param}_db)s" if "." in table else "currentDatabase()"
    # A rollup's data may sit in its materialized view's inner table: `.inner.<name>`, or on current
    # ClickHouse's Atomic databases `.inner_id.<uuid>` (any of those in the database counts).
    return (f"(database = {database} AND (table IN (%({param})s, %({param}_inner)s) "
            "OR startsWith(table, '.inner_id.')))")


def _table_params(table: str, param: str) -> dict[str, str]:
    db, _, name = table.rpartition(".")
    return {param: name, f"{param}_inner": f".inner.{name}", **({f"{param}_db": db} if db else {})}


def closed_month_queries(cfg: dict, month: Month) -> dict[str, Query]:
    """What one run can see of a closed month's history: late arrivals and mutations."""
    ev = cfg["usage_events"]
    tables = {"events": ev["table"], "daily": cfg["usage_daily"]["table"], "hourly": cfg["usage_hourly"]["table"]}
    params = {"month_start": epoch(month.start)}
    for key, table in tables.items():
        params.update(_table_params(table, key))
    out = {
        # Recorded ALTER ... UPDATE/DELETE on the events table or a rollup (or a rollup's inner table) since
        # the month began: any of them may have changed the month's stored costs. Readable by a read-only user.
        "mutations": Query(
            "mutations of the billing tables since the month began (system.mutations)",
            f"""SELECT database, table, mutation_id, command, toUInt32(create_time) AS created, is_done
FROM system.mutations
WHERE create_time >= toDateTime(%(month_start)s)
  AND ({' OR '.join(_table_match(t, k) for k, t in tables.items())})
ORDER BY create_time, table""",
            params,
            columns=("database", "table", "mutation_id", "command", "created", "is_done"),
        ),
    }
    if ev["ingested_at"]:
        out["late"] = Query(
            "rows of the month ingested after it closed, per tenant",
            f"""SELECT {ev['tenant_id']} AS tenant_id, count() AS late_rows,
       sum({NANOS_SQL.format(col=ev['cost_usd'])}) AS cost_nanos,
       toUInt32(min({ev['ingested_at']})) AS first_ingested, toUInt32(max({ev['ingested_at']})) AS last_ingested
FROM {ev['table']}
WHERE {ev['timestamp']} >= toDateTime(%(month_start)s) AND {ev['timestamp']} < toDateTime(%(month_end)s)
  AND {ev['ingested_at']} > toDateTime(%(closed_at)s)
GROUP BY tenant_id
ORDER BY tenant_id""",
            {"month_start": epoch(month.start), "month_end": epoch(month.end),
             "closed_at": epoch(month.end) + int(cfg["invoice"]["late_arrival_grace_seconds"])},
            columns=("tenant_id", "late_rows", "cost_nanos", "first_ingested", "last_ingested"),
        )
    return out


def queries(cfg: dict, month: Month) -> dict[str, Query]:
    ev, dl, types = cfg["usage_events"], cfg["usage_daily"], cfg["event_types"]
    params = {
        "month_start": epoch(month.start),
        "month_end": epoch(month.end),
        "query_type": types["query"],
        "input_type": types["token_input"],
        "output_type": types["token_output"],
    }
    source = ""
    if cfg["invoice"]["sql"]:
        raw_sql, raw_name, source = cfg["invoice"]["sql"], "invoice totals (configured invoice.sql)", "config key 'invoice.sql'"
    else:
        raw_name = "invoice totals from usage_events"
        raw_sql = f"""SELECT {ev['tenant_id']} AS tenant_id,
       countIf({ev['event_type']} = %(query_type)s) AS total_queries,
       sumIf({ev['quantity']}, {ev['event_type']} IN (%(input_type)s, %(output_type)s)) AS total_tokens,
       sum({NANOS_SQL.format(col=ev['cost_usd'])}) AS cost_nanos
FROM {ev['table']}
WHERE {ev['timestamp']} >= toDateTime(%(month_start)s) AND {ev['timestamp']} < toDateTime(%(month_end)s)
GROUP BY tenant_id"""
    day_params = {"first_day": month.start.date().isoformat(), "next_month": month.end.date().isoformat()}
    return {
        "active": active_tenants_query(cfg),
        "raw_a": Query(raw_name + ", read 1", raw_sql, params, columns=INVOICE_COLUMNS, source=source),
        # A second, independent read: single-threaded, so a different summation order.
        "raw_b": Query(raw_name + ", read 2 (max_threads=1)", raw_sql, params, {"max_threads": 1},
                       columns=INVOICE_COLUMNS, source=source),
        "rollup": Query(
            "invoice totals from usage_daily (summed)",
            f"""SELECT {dl['tenant_id']} AS tenant_id, sum({dl['query_count']}) AS total_queries,
       sum({dl['input_tokens']}) + sum({dl['output_tokens']}) AS total_tokens,
       sum({dl['total_cost_usd']}) AS total_cost_usd
FROM {dl['table']}
WHERE {dl['day']} >= toDate(%(first_day)s) AND {dl['day']} < toDate(%(next_month)s)
GROUP BY tenant_id""",
            day_params,
            columns=("tenant_id", "total_queries", "total_tokens", "total_cost_usd"),
        ),
        **closed_month_queries(cfg, month),
    }
