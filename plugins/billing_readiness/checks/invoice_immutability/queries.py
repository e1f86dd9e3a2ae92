"""Check 2's SQL: the closed month's invoice totals from usage_events (with the rows ingested after the month
closed, in the same scan) and from usage_daily, and the mutations recorded on the billing tables since the
month began (on every shard of a cluster)."""

from __future__ import annotations

from billing_readiness.core import cost_values
from billing_readiness.core.money import NANOS_SQL
from billing_readiness.core.sql import (
    DISTRIBUTED_CLUSTER,
    DISTRIBUTED_DB,
    DISTRIBUTED_TABLE,
    Query,
    active_tenants_query,
    configured_tables,
    table_params,
)
from billing_readiness.core.timewindow import Month, epoch, same_zone

INVOICE_COLUMNS = ("tenant_id", "total_queries", "total_tokens", "cost_nanos")  # what invoice.sql must return
# The month's late arrivals, folded into the invoice read (one scan) when the invoice SQL is ours.
LATE_COLUMNS = ("late_rows", "late_cost_nanos", "first_ingested", "last_ingested")


def closed_month_queries(cfg: dict, month: Month, late_query: bool = True) -> dict[str, Query]:
    """What one run can see of a closed month's history: mutations, and late arrivals (unless the invoice
    read already counts them: `late_query` False)."""
    tables = {
        "events": cfg["usage_events"]["table"],
        "daily": cfg["usage_daily"]["table"],
        "hourly": cfg["usage_hourly"]["table"],
    }
    named = {k: v for key, table in tables.items() for k, v in table_params(table, key).items()}
    out = {"mutations": _mutations(cfg, month, tables, named), "distributed": _distributed(tables, named)}
    if cfg["usage_events"]["ingested_at"] and late_query:
        out["late"] = _late(cfg, month)
    return out


def _mutations(cfg: dict, month: Month, tables: dict, named: dict) -> Query:
    # Recorded ALTER ... UPDATE/DELETE since the month began on the events table or a rollup, a rollup's
    # inner table (`.inner.<name>`, or `.inner_id.<uuid>` on Atomic databases), or the local tables a
    # Distributed one reads: any of them may have changed the month's stored costs. Readable by a read-only
    # user. The tables are matched where the query starts, after the rows are read: a shard's
    # currentDatabase() is not the connection's, and 18.16 drops rows when system.mutations' own
    # database/table columns meet an IN subquery directly.
    params = {
        **named,
        "month_start": epoch(month.start),
        "distributed_db": DISTRIBUTED_DB,
        "distributed_table": DISTRIBUTED_TABLE,
    }
    configured = configured_tables(tables)
    cluster = cfg["clickhouse"]["cluster"]
    # Mutations are recorded where the data is: on a cluster, on every shard's local tables.
    if cluster:
        params["cluster"] = cluster
    sql = _MUTATIONS_SQL.replace("{configured}", configured)
    return Query(
        "mutations of the billing tables since the month began (system.mutations"
        + (f" on every server of cluster {cluster})" if cluster else ")"),
        sql.replace("{source}", "cluster(%(cluster)s, system, mutations)" if cluster else "system.mutations"),
        params,
        columns=("database", "table", "mutation_id", "command", "created", "is_done"),
        # a profile that forbids cluster() (readonly=1): every server is asked directly
        local_sql=sql.replace("{source}", "system.mutations") if cluster else None,
    )


_MUTATIONS_SQL = """SELECT database, table, mutation_id, command, created, is_done
FROM
(
    SELECT database, table, mutation_id, command, toUInt32(create_time) AS created, is_done
    FROM {source}
    WHERE create_time >= toDateTime(%(month_start)s)
)
WHERE (database, table) GLOBAL IN
      (
          SELECT database, arrayJoin([name, concat('.inner.', name)]) FROM system.tables WHERE {configured}
          UNION ALL
          SELECT extract(engine_full, %(distributed_db)s) AS db, arrayJoin([t, concat('.inner.', t)])
          FROM (SELECT engine_full, extract(engine_full, %(distributed_table)s) AS t FROM system.tables
                WHERE engine = 'Distributed' AND ({configured}))
      )
   OR (startsWith(table, '.inner_id.') AND database GLOBAL IN (SELECT database FROM system.tables WHERE {configured}))
ORDER BY created, table"""


def _distributed(tables: dict, named: dict) -> Query:
    # Which configured tables are Distributed, and over which cluster: without config 'clickhouse.cluster'
    # the mutations above come from one server only, which must not pass for the whole cluster.
    configured = configured_tables(tables)
    return Query(
        "Distributed billing tables and their cluster (system.tables)",
        f"""SELECT name, extract(engine_full, %(distributed_cluster)s) AS cluster
FROM system.tables
WHERE engine = 'Distributed' AND ({configured})
ORDER BY name""",
        {**named, "distributed_cluster": DISTRIBUTED_CLUSTER},
        columns=("name", "cluster"),
    )


def _late(cfg: dict, month: Month) -> Query:
    ev = cfg["usage_events"]
    return Query(
        "rows of the month ingested after it closed, per tenant",
        f"""SELECT {ev["tenant_id"]} AS tenant_id, count() AS late_rows,
       sum({NANOS_SQL.format(col=ev["cost_usd"])}) AS cost_nanos,
       toUInt32(min({ev["ingested_at"]})) AS first_ingested, toUInt32(max({ev["ingested_at"]})) AS last_ingested
FROM {ev["table"]}
WHERE {ev["timestamp"]} >= toDateTime(%(month_start)s) AND {ev["timestamp"]} < toDateTime(%(month_end)s)
  AND {ev["ingested_at"]} > toDateTime(%(month_end)s) AND {ev["ingested_at"]} > {ev["timestamp"]} + %(grace)s
GROUP BY tenant_id
ORDER BY tenant_id""",
        {
            "month_start": epoch(month.start),
            "month_end": epoch(month.end),
            "grace": int(cfg["invoice"]["late_arrival_grace_seconds"]),
        },
        columns=("tenant_id", "late_rows", "cost_nanos", "first_ingested", "last_ingested"),
    )


def _raw_invoice(cfg: dict, params: dict, late_inline: bool) -> tuple[str, str, tuple[str, ...], str]:
    """The invoice from the events: the configured invoice.sql, or ours (with the cost-value counts, and the
    late arrivals where there is an ingestion-time column). Returns (name, SQL, columns, source); adds the
    grace to `params` when it counts late arrivals."""
    ev = cfg["usage_events"]
    columns: tuple[str, ...] = INVOICE_COLUMNS
    source = ""
    if cfg["invoice"]["sql"]:
        raw_sql, raw_name, source = (
            cfg["invoice"]["sql"],
            "invoice totals (configured invoice.sql)",
            "config key 'invoice.sql'",
        )
    else:
        raw_name = "invoice totals from usage_events"
        columns = INVOICE_COLUMNS + cost_values.COUNT_COLUMNS  # cost_values asks for details when needed
        late = f""",
       {cost_values.counts_sql(ev["cost_usd"], ev["quantity"])}"""
        if late_inline:  # the same scan counts what arrived after the month closed
            raw_name += ", with late arrivals"
            columns = columns + LATE_COLUMNS
            params["grace"] = int(cfg["invoice"]["late_arrival_grace_seconds"])
            ing = ev["ingested_at"]
            # Late: written after the month ended, and longer after the event than normal ingest lag (the
            # grace). So an event of 23:59:59 written at 00:00:04 is not late, at whatever instant we look.
            after = f"({ing} > toDateTime(%(month_end)s) AND {ing} > {ev['timestamp']} + %(grace)s)"
            late += f""",
       countIf({after}) AS late_rows, sumIf({NANOS_SQL.format(col=ev["cost_usd"])}, {after}) AS late_cost_nanos,
       toUInt32(minIf({ing}, {after})) AS first_ingested, toUInt32(maxIf({ing}, {after})) AS last_ingested"""
        raw_sql = f"""SELECT {ev["tenant_id"]} AS tenant_id,
       countIf({ev["event_type"]} = %(query_type)s) AS total_queries,
       sumIf({ev["quantity"]}, {ev["event_type"]} IN (%(input_type)s, %(output_type)s)) AS total_tokens,
       sum({NANOS_SQL.format(col=ev["cost_usd"])}) AS cost_nanos{late}
FROM {ev["table"]}
WHERE {ev["timestamp"]} >= toDateTime(%(month_start)s) AND {ev["timestamp"]} < toDateTime(%(month_end)s)
GROUP BY tenant_id"""
    return raw_name, raw_sql, columns, source


def queries(cfg: dict, month: Month, rollup_zone: str = "UTC") -> dict[str, Query]:
    """The month's invoice (in its billing zone) from the events and from usage_daily. usage_daily's days are
    those of `rollup_zone`: where that zone cuts months elsewhere, the events are summed again over its days
    ("raw_rollup_zone") for the rollup to be compared with."""
    ev, dl, types = cfg["usage_events"], cfg["usage_daily"], cfg["event_types"]
    params = {
        "month_start": epoch(month.start),
        "month_end": epoch(month.end),
        "query_type": types["query"],
        "input_type": types["token_input"],
        "output_type": types["token_output"],
    }
    late_inline = bool(ev["ingested_at"]) and not cfg["invoice"]["sql"]
    raw_name, raw_sql, columns, source = _raw_invoice(cfg, params, late_inline)
    day_params = {"first_day": month.first_day.isoformat(), "next_month": month.next().first_day.isoformat()}
    other_zone = {}
    if not same_zone(month.tz, rollup_zone):
        local = month.in_zone(rollup_zone)
        other_zone["raw_rollup_zone"] = Query(
            f"{raw_name}, over the days of {rollup_zone} (usage_daily's days)",
            raw_sql,
            {**params, "month_start": epoch(local.start), "month_end": epoch(local.end)},
            columns=columns,
            source=source,
        )
    return {
        "active": active_tenants_query(cfg),
        # One read: the costs are summed as integer nano-dollars, so a second read of the same rows could only
        # repeat it; an independent regeneration is the rollup below, and a later run's is the baseline.
        "raw": Query(raw_name, raw_sql, params, columns=columns, source=source),
        "rollup": Query(
            "invoice totals from usage_daily (summed)",
            f"""SELECT {dl["tenant_id"]} AS tenant_id, sum({dl["query_count"]}) AS total_queries,
       sum({dl["input_tokens"]}) + sum({dl["output_tokens"]}) AS total_tokens,
       sum({dl["total_cost_usd"]}) AS total_cost_usd
FROM {dl["table"]}
WHERE {dl["day"]} >= toDate(%(first_day)s) AND {dl["day"]} < toDate(%(next_month)s)
GROUP BY tenant_id""",
            day_params,
            columns=("tenant_id", "total_queries", "total_tokens", "total_cost_usd"),
        ),
        **other_zone,
        **closed_month_queries(cfg, month, late_query=not late_inline),
    }
